import { connect, createServer, type Server, type Socket } from 'node:net';
import { listen, waitFor } from '@netlab/shared/testing';
import { startGateway, type RunningGateway } from './helpers';

jest.setTimeout(20_000);

interface Echo {
  server: Server;
  address: string;
  /** Connections that sent something (health probes connect and leave at once). */
  connections: number;
  /** What each such connection received before its FIN. */
  received: string[];
  close(): Promise<void>;
}

/**
 * An echo instance that, after the client's FIN, still answers: it sends back what it got and
 * `bye`, then ends. That only works if the half-close went through and the other half stayed open.
 */
async function startEcho(name: string): Promise<Echo> {
  const sockets = new Set<Socket>();
  const echo = { connections: 0, received: [] } as unknown as Echo;
  const server = createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    let got = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      if (got === '') echo.connections++;
      got += d;
      s.write(d);
    });
    s.on('end', () => {
      if (got !== '') echo.received.push(got);
      s.end(` bye from ${name}`);
    });
    s.on('error', () => undefined);
  });
  const { port } = await listen(server, 0, '127.0.0.1');
  echo.server = server;
  echo.address = `tcp://127.0.0.1:${port}`;
  echo.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return echo;
}

function exchange(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let got = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => (got += d));
    s.on('end', () => {
      s.end();
      resolve(got);
    });
    s.on('error', reject);
    s.on('close', () => resolve(got));
    s.write(text, () => s.end());
  });
}

async function addTcp(gw: RunningGateway, ...echos: Echo[]): Promise<void> {
  for (const e of echos) {
    gw.gateway.upstreams.add(
      { service: 'tcp-echo', tcp: e.address.slice('tcp://'.length) },
      'static',
    );
  }
  await waitFor(
    'tcp instances to be healthy',
    () =>
      gw.gateway.upstreams.list('tcp-echo').filter((i) => i.state === 'healthy').length ===
      echos.length,
  );
}

const tcpPort = (gw: RunningGateway) =>
  (gw.gateway.tcp.server.address() as import('node:net').AddressInfo).port;

describe('the TCP listener', () => {
  it('relays both ways and passes a half-close through, the other half still flowing', async () => {
    const gw = await startGateway({ tcp: true });
    const echo = await startEcho('one');
    try {
      await addTcp(gw, echo);
      expect(await exchange(tcpPort(gw), 'hello')).toBe('hello bye from one');
      expect(echo.received).toEqual(['hello']);
      await waitFor('the connection to be released', () => gw.gateway.tcp.open() === 0);
      expect(await gw.metricsText()).toMatch(
        /gateway_tcp_bytes_total\{direction="upstream"[^}]*\} 5/,
      );
    } finally {
      await gw.close();
      await echo.close();
    }
  });

  it('balances connections across instances', async () => {
    const gw = await startGateway({ tcp: true, settings: { balancer: 'round-robin' } });
    const a = await startEcho('a');
    const b = await startEcho('b');
    try {
      await addTcp(gw, a, b);
      const replies = await Promise.all([1, 2, 3, 4].map((i) => exchange(tcpPort(gw), `m${i}`)));
      expect(replies.filter((r) => r.endsWith('from a'))).toHaveLength(2);
      expect(replies.filter((r) => r.endsWith('from b'))).toHaveLength(2);
    } finally {
      await gw.close();
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('tries another instance when one refuses, with nothing of the client lost', async () => {
    const gw = await startGateway({ tcp: true, settings: { balancer: 'round-robin' } });
    const dead = await startEcho('dead');
    const live = await startEcho('live');
    try {
      await addTcp(gw, dead, live);
      await dead.close();
      const replies = await Promise.all([1, 2].map((i) => exchange(tcpPort(gw), `data${i}`)));
      expect(replies.sort()).toEqual(['data1 bye from live', 'data2 bye from live']);
    } finally {
      await gw.close();
      await live.close();
    }
  });

  it('closes the connection when no instance is healthy', async () => {
    const gw = await startGateway({ tcp: true });
    try {
      expect(await exchange(tcpPort(gw), 'anyone?')).toBe('');
      expect(await gw.metricsText()).toMatch(
        /gateway_tcp_connections_total\{result="no_upstream"[^}]*\} 1/,
      );
    } finally {
      await gw.close();
    }
  });

  it('refuses connections past TCP_MAX_CONNECTIONS', async () => {
    const gw = await startGateway({ tcp: true, settings: { tcpMaxConnections: 1 } });
    const echo = await startEcho('one');
    await addTcp(gw, echo);
    const first = connect(tcpPort(gw), '127.0.0.1');
    try {
      first.on('data', () => undefined);
      first.write('hold');
      await waitFor('the first connection to be relayed', () => echo.connections === 1);
      expect(await exchange(tcpPort(gw), 'second')).toBe('');
      expect(echo.connections).toBe(1);
      expect(await gw.metricsText()).toMatch(
        /gateway_tcp_connections_total\{result="limit"[^}]*\} 1/,
      );
    } finally {
      first.destroy();
      await gw.close();
      await echo.close();
    }
  });

  it('cuts a connection idle past TCP_IDLE_TIMEOUT', async () => {
    const gw = await startGateway({ tcp: true, settings: { tcpIdleTimeoutMs: 200 } });
    const echo = await startEcho('one');
    try {
      await addTcp(gw, echo);
      const s = connect(tcpPort(gw), '127.0.0.1');
      s.on('data', () => undefined);
      s.write('x');
      await new Promise<void>((resolve) => s.on('close', () => resolve()));
    } finally {
      await gw.close();
      await echo.close();
    }
  });
});
