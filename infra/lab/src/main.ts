#!/usr/bin/env node
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { generateNatsPasswords, loadConfig } from '@netlab/shared';
import { parseCliArgs, runCli, USAGE } from './cli';
import { labConfigSchema, labDirSchema, labPaths } from './config';
import { loadManifestFile, ManifestError, parseManifest, type PartDefinition } from './manifest';
import { ensureNatsServer, findExecutable } from './nats-process';
import { labParts } from './parts';
import { createSupervisor } from './supervisor';

// dist/main.js → infra/lab/dist → the repository root.
const repoRoot = resolve(__dirname, '..', '..', '..');
const colorize = process.stdout.isTTY && (process.env.NO_COLOR ?? '') === '';

function run(command: string, args: readonly string[]): Promise<number> {
  return new Promise((done) => {
    const child = spawn(command, [...args], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    child.once('error', () => done(127));
    child.once('exit', (code) => done(code ?? 1));
  });
}

function loadParts(manifestFile: string | undefined): readonly PartDefinition[] {
  try {
    return manifestFile === undefined
      ? parseManifest({ parts: labParts }, 'infra/lab/src/parts.ts')
      : loadManifestFile(manifestFile);
  } catch (err) {
    if (!(err instanceof ManifestError)) throw err;
    process.stderr.write(`netlab: ${err.message}\n`);
    return process.exit(2);
  }
}

async function up(): Promise<number> {
  const config = loadConfig(labConfigSchema(repoRoot), process.env, { usage: USAGE });
  const parts = loadParts(config.manifestFile);
  const natsBin = await ensureNatsServer({
    find: () => findExecutable('nats-server', process.env.PATH),
    isRoot: process.getuid?.() === 0,
    run,
    write: (text) => process.stderr.write(text),
  });
  if (natsBin === undefined) return 1;

  const supervisor = createSupervisor({
    config,
    repoRoot,
    parts,
    natsBin,
    // Users and permissions: each part connects as its own user (infra/nats/README.md).
    natsConfigFile: join(repoRoot, 'infra', 'nats', 'nats.conf'),
    natsPasswords: generateNatsPasswords(),
    nodeBin: process.execPath,
    inheritedEnv: process.env,
    out: process.stdout,
    err: process.stderr,
    colorize,
  });
  const onSignal = (signal: NodeJS.Signals): void => {
    if (supervisor.isStopping()) {
      process.stderr.write(`netlab: ${signal} again: killing everything now\n`);
      supervisor.killAll();
      process.exit(130);
    }
    process.stderr.write(`\nnetlab: ${signal}: stopping the lab (again to force)\n`);
    void supervisor.stop(signal);
  };
  // A closed terminal or a `| head` must not take the lab down: the logs are in .lab/logs too.
  process.stdout.on('error', () => undefined);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  // Whatever ends this process, its children (in process groups of their own) end with it.
  process.on('exit', () => supervisor.killAll());
  return supervisor.run();
}

async function main(): Promise<number> {
  const parsed = parseCliArgs(process.argv.slice(2));
  if (!parsed.ok) {
    process.stderr.write(`netlab: ${parsed.error}\n\n${USAGE}\n`);
    return 2;
  }
  const { command } = parsed;
  if (command.name === 'up') return up();
  const { labDir } = loadConfig(labDirSchema(repoRoot), process.env);
  // `netlab logs -f | head`: the reader went away, which ends the command.
  process.stdout.on('error', () => process.exit(0));
  // Only `logs -f` ends on Ctrl-C by itself; any other command is simply interrupted.
  const follows = command.name === 'logs' && command.follow;
  const interrupted = new Promise<void>((done) => {
    if (follows) process.once('SIGINT', () => done());
  });
  return runCli(command, {
    socketPath: labPaths(labDir).socket,
    stdout: process.stdout,
    stderr: process.stderr,
    colorize,
    interrupted,
  });
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(
      `netlab: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
