import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../logger';

/** A real pino logger whose JSON lines are kept in memory, for tests that read what was logged. */
export function captureLogger(service = 'test'): {
  logger: Logger;
  lines: () => Record<string, unknown>[];
} {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString('utf8'));
      cb();
    },
  });
  const logger = createLogger({
    service,
    instance: `${service}-test`,
    level: 'debug',
    destination,
  });
  const lines = (): Record<string, unknown>[] =>
    chunks
      .join('')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { logger, lines };
}
