#!/usr/bin/env node
import { runCli } from './cli';

// The CLI's composition root: the only place it reads argv and the environment.
runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
}).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`netlab-fetch: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
