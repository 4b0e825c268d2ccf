/**
 * A progress bar for long CLI steps: `[#####.....] 42% 8,400/20,000 rows 3,100 rows/s`.
 *
 * On a terminal it redraws one line with a carriage return, at most `redrawsPerSecond`
 * times a second, so a fast loop does not spend its time writing escape-free noise.
 * Into a pipe or a log file a redrawn line is garbage, so there it writes a few plain
 * lines instead (each quarter, and the end).
 */

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface ProgressOptions {
  total: number;
  /** What is counted: `rows`. */
  unit: string;
  stream?: ProgressStream;
  /** Defaults to the stream's `isTTY`. */
  interactive?: boolean;
  redrawsPerSecond?: number;
  width?: number;
  /** Injectable clock (milliseconds), for tests. */
  now?: () => number;
}

export interface Progress {
  /** Sets the count done so far (not an increment). */
  update(done: number): void;
  /** Draws the final state and ends the line. Idempotent. */
  finish(): void;
}

const number = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** The text of one progress line (no carriage return, no newline). */
export function formatProgress(done: number, total: number, unit: string, elapsedMs: number, width = 20): string {
  const fraction = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(fraction * width);
  const bar = '#'.repeat(filled) + '.'.repeat(width - filled);
  const percent = `${Math.floor(fraction * 100)}%`.padStart(4);
  const rate = elapsedMs > 0 ? (done * 1000) / elapsedMs : 0;
  return `[${bar}] ${percent} ${number.format(done)}/${number.format(total)} ${unit} ${number.format(rate)} ${unit}/s`;
}

export function createProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  const interactive = options.interactive ?? !!stream.isTTY;
  const now = options.now ?? (() => performance.now());
  const minIntervalMs = 1000 / (options.redrawsPerSecond ?? 10);
  const width = options.width ?? 20;
  const started = now();
  let done = 0;
  let lastDraw = -Infinity;
  let lastLength = 0;
  let nextQuarter = 1;
  let finished = false;

  const line = () => formatProgress(done, options.total, options.unit, now() - started, width);
  const redraw = () => {
    const text = line();
    // Pad over the previous line's tail when this one is shorter.
    stream.write(`\r${text.padEnd(lastLength)}`);
    lastLength = text.length;
    lastDraw = now();
  };

  return {
    update(count) {
      if (finished) return;
      done = count;
      if (interactive) {
        if (now() - lastDraw >= minIntervalMs) redraw();
        return;
      }
      const quarter = options.total > 0 ? Math.floor((4 * done) / options.total) : 4;
      if (quarter >= nextQuarter && quarter < 4) {
        stream.write(`${line()}\n`);
        nextQuarter = quarter + 1;
      }
    },
    finish() {
      if (finished) return;
      finished = true;
      if (interactive) {
        redraw();
        stream.write('\n');
      } else {
        stream.write(`${line()}\n`);
      }
    },
  };
}
