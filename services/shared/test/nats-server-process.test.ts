import { natsServerArgs } from '@netlab/shared';

describe('natsServerArgs', () => {
  it('turns port 0 into -1, which lets nats-server choose, and enables JetStream with a store', () => {
    expect(
      natsServerArgs({
        configFile: 'c.conf',
        host: '127.0.0.1',
        port: 0,
        monitorPort: 8222,
        storeDir: '/s',
      }),
    ).toEqual(['-c', 'c.conf', '-a', '127.0.0.1', '-p', '-1', '-m', '8222', '-js', '-sd', '/s']);
  });

  it('leaves monitoring and JetStream off unless asked', () => {
    expect(natsServerArgs({ host: '::1', port: 4222 })).toEqual(['-a', '::1', '-p', '4222']);
  });
});
