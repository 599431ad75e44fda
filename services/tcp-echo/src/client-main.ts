#!/usr/bin/env node
import { isNetlabError, loadConfig } from '@netlab/shared';
import { CLIENT_USAGE, clientArgv, clientSchema, type ClientConfig } from './client-config';
import { tcpEchoOnce, udpEchoOnce } from './echo-client';
import { runEchoLoad, type LoadSummary } from './echo-load';
import { runInteractive } from './interactive-session';

/** `netlab-echo`: the client's composition root, the only client file that reads argv. */

const out = (text: string): boolean => process.stdout.write(text);
const err = (text: string): boolean => process.stderr.write(text);

function ms(value: number): string {
  return value < 10 ? value.toFixed(3) : value.toFixed(1);
}

function formatSummary(s: LoadSummary): string {
  const lines = [
    `${s.transport} ${s.target}: ${s.roundTrips} of ${s.requested} round trips of ${s.size} B over ${s.connections} ${s.transport === 'tcp' ? 'connection' : 'socket'}${s.connections === 1 ? '' : 's'} in ${(s.elapsedMs / 1000).toFixed(2)} s`,
    `  ${Math.round(s.perSecond).toLocaleString('en-US')} round trips/s   p50 ${ms(s.p50Ms)} ms   p99 ${ms(s.p99Ms)} ms   max ${ms(s.maxMs)} ms`,
    `  errors ${s.errors}${
      s.errors > 0
        ? ` (${Object.entries(s.errorCodes)
            .map(([code, n]) => `${code} ${n}`)
            .join(', ')})`
        : ''
    }`,
  ];
  return `${lines.join('\n')}\n`;
}

async function run(config: ClientConfig): Promise<number> {
  if (config.help) {
    out(`${CLIENT_USAGE}\n`);
    return 0;
  }
  const where = `${config.transport} ${config.target.host}:${config.target.port}`;

  if (config.count !== undefined) {
    const summary = await runEchoLoad({
      target: config.target,
      transport: config.transport,
      count: config.count,
      concurrency: config.concurrency,
      size: config.size,
      timeoutMs: config.timeoutMs,
    });
    out(config.json ? `${JSON.stringify(summary)}\n` : formatSummary(summary));
    return summary.errors === 0 && summary.roundTrips === summary.requested ? 0 : 1;
  }

  if (config.message !== undefined) {
    const payload = Buffer.from(config.message);
    const once = config.transport === 'tcp' ? tcpEchoOnce : udpEchoOnce;
    const trip = await once(config.target, payload, config.timeoutMs);
    out(`${trip.reply.toString('utf8')}\n`);
    const connect = trip.connectMs === undefined ? '' : ` (connect ${ms(trip.connectMs)} ms)`;
    err(`round trip ${ms(trip.rttMs)} ms${connect}, ${payload.length} B over ${where}\n`);
    return 0;
  }

  if (process.stdin.isTTY) err(`connected to ${where}; type lines, Ctrl-D to finish\n`);
  const result = await runInteractive({
    target: config.target,
    transport: config.transport,
    input: process.stdin,
    output: process.stdout,
    timing: process.stderr.isTTY ? process.stderr : undefined,
    timeoutMs: config.timeoutMs,
  });
  if (process.stderr.isTTY) err(`${result.receivedBytes} of ${result.sentBytes} bytes echoed\n`);
  return 0;
}

// Flags only: the client reads no environment.
const config = loadConfig(
  clientSchema,
  {},
  { argv: { args: process.argv.slice(2), spec: clientArgv }, usage: CLIENT_USAGE },
);
run(config).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    const label = isNetlabError(e) ? `${e.code}: ${e.message}` : String(e);
    err(`netlab-echo: ${label}\n`);
    process.exitCode = 1;
  },
);
