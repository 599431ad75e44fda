import { parseManifest } from '../src/manifest';
import { instanceEnv, type InstancePlan } from '../src/part-process';

describe('instanceEnv', () => {
  const [part] = parseManifest(
    {
      parts: [
        {
          name: 'tcp-echo',
          workspace: 'services/tcp-echo',
          port: 7001,
          healthPortEnv: 'HEALTH_PORT',
          healthPort: 8084,
          env: { ECHO_BANNER: 'hi', DATA: '${NETLAB_DIR}/echo' },
        },
      ],
    },
    't',
  );
  const plan: InstancePlan = { part: part!, name: 'tcp-echo-2', port: 40001, healthPort: 40002 };
  const options = {
    repoRoot: '/repo',
    labDir: '/repo/.lab',
    natsUrl: 'nats://127.0.0.1:4222',
    controlSocket: '/repo/.lab/netlab.sock',
    logLevel: 'debug' as const,
  };

  it('gives the instance its address, NATS, the control socket and its name', () => {
    expect(instanceEnv(plan, { ...options, inherited: {} })).toEqual({
      ECHO_BANNER: 'hi',
      DATA: '/repo/.lab/echo',
      HOST: '127.0.0.1',
      PORT: '40001',
      HEALTH_PORT: '40002',
      NATS_URL: 'nats://127.0.0.1:4222',
      LOG_LEVEL: 'debug',
      LOG_FORMAT: 'json',
      NETLAB_CONTROL_SOCKET: '/repo/.lab/netlab.sock',
      NETLAB_INSTANCE: 'tcp-echo-2',
    });
  });

  it('passes the supervisor environment on, under the manifest and the lab', () => {
    const env = instanceEnv(plan, {
      ...options,
      inherited: {
        PATH: '/bin',
        PORT: '3000',
        ECHO_BANNER: 'from shell',
        LOG_FORMAT: 'pretty',
        UNSET: undefined,
      },
    });
    expect(env).toMatchObject({
      PATH: '/bin',
      PORT: '40001',
      ECHO_BANNER: 'hi',
      LOG_FORMAT: 'json',
    });
    expect('UNSET' in env).toBe(false);
  });
});
