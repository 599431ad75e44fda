/** Longer lines are cut: a runaway process must not make the supervisor buffer without end. */
export const MAX_LINE_BYTES = 64 * 1024;

export interface LineSplitter {
  /** Feeds a chunk; calls back once with every complete line in it (without the newline). */
  push(chunk: string): void;
  /** Emits what is left after the last newline (at end of stream). */
  flush(): void;
}

/**
 * Splits a child's output into lines. Lines come out in batches, one callback per chunk, so the
 * log sink can write them to the file with one system call.
 */
export function createLineSplitter(
  onLines: (lines: string[]) => void,
  maxLineLength = MAX_LINE_BYTES,
): LineSplitter {
  let rest = '';
  return {
    push(chunk) {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop() ?? '';
      const lines: string[] = [];
      for (const part of parts) lines.push(part.endsWith('\r') ? part.slice(0, -1) : part);
      while (rest.length > maxLineLength) {
        lines.push(rest.slice(0, maxLineLength));
        rest = rest.slice(maxLineLength);
      }
      if (lines.length > 0) onLines(lines);
    },
    flush() {
      if (rest !== '') onLines([rest]);
      rest = '';
    },
  };
}
