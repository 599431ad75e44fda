import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import {
  connectNats,
  registerService,
  subjects,
  type NatsClient,
  type Service,
  type ServiceName,
} from '@netlab/shared';
import { listen, silentLogger, waitFor } from '@netlab/shared/testing';

const GATEWAY_MAIN = join(__dirname, '..', 'dist', 'main.js');
const UPSTREAM_FIXTURE = join(__dirname, 'fixtures', 'upstream.js');

export interface GatewayProcess {
  proc: ChildProcess;
  port: number;
  tcpPort: number | undefined;
  url: string;
  /** Every line it printed (JSON logs and anything else). */
  output: string[];
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Runs the built gateway (dist/main.js) with PORT=0 and learns its ports from its log. */
export async function spawnGateway(env: Record<string, string>): Promise<GatewayProcess> {
  const proc = spawn(process.execPath, [GATEWAY_MAIN], {
    env: {
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      PORT: '0',
      TCP_PORT: '0',
      LOG_LEVEL: 'info',
      HEALTH_INTERVAL: '200ms',
      DISCOVERY_INTERVAL: '500ms',
      SHUTDOWN_GRACE: '3s',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  let buffered = '';
  const onData = (d: Buffer): void => {
    buffered += d.toString('utf8');
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    output.push(...lines);
  };
  proc.stdout.on('data', onData);
  proc.stderr.on('data', onData);
  const exited = new Promise<number | null>((resolve) =>
    proc.once('exit', (code) => resolve(code)),
  );
  let ports: { port: number; tcpPort?: number } | undefined;
  await Promise.race([
    waitFor(
      'the gateway to listen',
      () => {
        for (const line of output) {
          if (!line.includes('"gateway listening"')) continue;
          ports = JSON.parse(line) as { port: number; tcpPort?: number };
          return true;
        }
        return false;
      },
      { timeoutMs: 15_000 },
    ),
    exited.then((code) => {
      throw new Error(`gateway exited with ${code}:\n${output.join('\n')}`);
    }),
  ]);
  const port = ports!.port;
  return {
    proc,
    port,
    tcpPort: ports!.tcpPort,
    url: `http://127.0.0.1:${port}`,
    output,
    exited,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}

/** Runs the gateway expecting it to refuse to start; resolves with its exit code and output. */
export function runGatewayToExit(
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [GATEWAY_MAIN], {
      env: { PATH: process.env.PATH ?? '', PORT: '0', TCP_PORT: 'off', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    proc.stdout.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
    proc.once('exit', (code) => resolve({ code, output }));
  });
}

export interface UpstreamProcess {
  proc: ChildProcess;
  port: number;
  url: string;
  stop(): Promise<void>;
}

export async function spawnUpstream(
  name: string,
  env: Record<string, string> = {},
): Promise<UpstreamProcess> {
  const proc = spawn(process.execPath, [UPSTREAM_FIXTURE], {
    env: { PATH: process.env.PATH ?? '', NAME: name, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    proc.stdout.once('data', (d: Buffer) =>
      resolve(Number(/listening (\d+)/.exec(d.toString())?.[1])),
    );
    proc.once('exit', (code) => reject(new Error(`upstream exited with ${code}`)));
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return {
    proc,
    port,
    url: `http://127.0.0.1:${port}`,
    async stop() {
      proc.kill('SIGCONT');
      proc.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * An instance as the shared runtime makes one: an HTTP server registered as a NATS micro service
 * that announces `up`, and on stop goes unready (503), stops accepting, announces `down`, leaves.
 */
export interface NatsInstance {
  name: string;
  url: string;
  server: Server;
  hits: number;
  ready: boolean;
  nats: NatsClient;
  service: Service;
  stop(): Promise<void>;
}

export async function startNatsInstance(
  service: ServiceName,
  name: string,
  natsUrl: string,
  extraMetadata: Record<string, string> = {},
): Promise<NatsInstance> {
  const inst = { name, hits: 0, ready: true } as NatsInstance;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/readyz' || req.url === '/-/readyz') {
      res.statusCode = inst.ready ? 200 : 503;
      res.end();
      return;
    }
    inst.hits++;
    req.resume();
    req.on('end', () => res.end(name));
  });
  const { port } = await listen(server, 0, '127.0.0.1');
  inst.server = server;
  inst.url = `http://127.0.0.1:${port}`;
  inst.nats = await connectNats({
    servers: [natsUrl],
    name,
    logger: silentLogger(),
    maxPendingBytes: 1 << 20,
    reconnectWaitMs: 100,
  });
  const metadata = { http: inst.url, ...extraMetadata };
  inst.service = await registerService(inst.nats.nc, { name: service, version: '0.0.1', metadata });
  const announce = (kind: 'up' | 'down') =>
    inst.nats.publishJson(subjects.event(service, kind), {
      instance: name,
      id: inst.service.info().id,
      version: '0.0.1',
      metadata,
    });
  announce('up');
  inst.stop = async () => {
    inst.ready = false;
    await new Promise<void>((resolve) => {
      const sweep = setInterval(() => server.closeIdleConnections(), 20);
      server.close(() => {
        clearInterval(sweep);
        resolve();
      });
      server.closeIdleConnections();
    });
    announce('down');
    await inst.service.stop();
    await inst.nats.close();
  };
  return inst;
}
