import { connect, createServer, type Server, type Socket } from 'node:net';
import { listen, waitFor } from '@netlab/shared/testing';
import { createClientIdleSweep, exemptFromIdleSweep } from '../src/client-idle-sweep';

/** A server whose accepted sockets the sweep watches; `talk` keeps one of them busy. */
async function setup(idleMs: number) {
  const sweep = createClientIdleSweep(idleMs);
  const accepted: Socket[] = [];
  const server: Server = createServer((s) => {
    s.on('error', () => undefined);
    accepted.push(s);
    sweep.watch(s);
  });
  const { port } = await listen(server, 0, '127.0.0.1');
  const open = async (): Promise<{ client: Socket; server: Socket; closed: () => boolean }> => {
    const before = accepted.length;
    const client = connect(port, '127.0.0.1');
    client.on('error', () => undefined);
    await waitFor('the connection to be accepted', () => accepted.length > before);
    const peer = accepted[accepted.length - 1]!;
    let closed = false;
    peer.once('close', () => (closed = true));
    return { client, server: peer, closed: () => closed };
  };
  const close = async () => {
    sweep.close();
    for (const s of accepted) s.destroy();
    await new Promise((r) => server.close(r));
  };
  return { sweep, open, close };
}

describe('the client idle sweep (CLIENT_IDLE_TIMEOUT)', () => {
  it('cuts a silent connection, spares one that keeps talking and an exempted one', async () => {
    const t = await setup(200);
    try {
      const silent = await t.open();
      const talking = await t.open();
      const exempt = await t.open();
      exemptFromIdleSweep(exempt.server);
      // Traffic either way counts: the client writes, the server answers.
      const ticker = setInterval(() => talking.client.write('.'), 40);
      talking.server.on('data', (d: Buffer) => talking.server.write(d));
      try {
        await waitFor('the silent connection to be cut', silent.closed, { timeoutMs: 3000 });
        // It was cut for silence: the others have been silent (or not) just as long.
        expect(talking.closed()).toBe(false);
        expect(exempt.closed()).toBe(false);
      } finally {
        clearInterval(ticker);
      }
      // Once the talker stops, it goes the same way; the exempted one never does.
      await waitFor('the former talker to be cut', talking.closed, { timeoutMs: 3000 });
      expect(exempt.closed()).toBe(false);
      for (const c of [silent, talking, exempt]) c.client.destroy();
    } finally {
      await t.close();
    }
  });

  it('does nothing with a timeout of 0 (off)', async () => {
    const t = await setup(0);
    try {
      const c = await t.open();
      await new Promise((r) => setTimeout(r, 150));
      expect(c.closed()).toBe(false);
      c.client.destroy();
    } finally {
      await t.close();
    }
  });
});
