/**
 * Open-loop load: requests arrive on a schedule fixed in advance (the target rate,
 * ramped up linearly), whatever the system does with them. A request's latency is
 * measured from its scheduled arrival, so when the system falls behind the time
 * spent waiting for a free connection shows up in the latency instead of lowering
 * the offered load (the "coordinated omission" of closed-loop benchmarks).
 */
import { seededFloats } from '../util/random.ts';

export type ArrivalProcess = 'poisson' | 'uniform';

export interface OpenLoopOptions {
  durationSeconds: number;
  rampUpSeconds: number;
  targetQps: number;
  /** In-flight requests at most; later arrivals wait in a queue. */
  concurrency: number;
  arrival: ArrivalProcess;
  seed: number;
  /** After the last arrival, how long queued requests may still start; the rest are dropped. */
  drainSeconds: number;
  /** Queued arrivals beyond this are dropped at once (memory stays bounded). */
  maxQueue: number;
  /** Runs request `index` (0, 1, 2, ... in arrival order). */
  run: (index: number) => Promise<void>;
}

export interface OpenLoopResult {
  scheduled: number;
  completed: number;
  errors: number;
  /** Arrivals that never started: queue full, or still queued when the drain ended. */
  dropped: number;
  /** Successful requests, from scheduled arrival to completion, in milliseconds. */
  latenciesMs: number[];
  /** Mean time successful requests waited before starting (ms). */
  meanQueueMs: number;
  /** Completions (successful) in each second since the start. */
  timeline: number[];
  /** From the first scheduled arrival to the last completion. */
  elapsedSeconds: number;
  errorSamples: string[];
}

/**
 * Arrival times (seconds from the start) for a rate that ramps linearly from 0 to
 * `qps` over `ramp` seconds and stays there until `duration`. The cumulative
 * intensity Λ(t) is inverted, so a Poisson process is unit-exponential steps in Λ
 * and a uniform one is unit steps.
 */
export function* arrivalTimes(options: { durationSeconds: number; rampUpSeconds: number; targetQps: number; arrival: ArrivalProcess; seed: number }): Generator<number> {
  const { durationSeconds: duration, rampUpSeconds: ramp, targetQps: qps } = options;
  const uniform = seededFloats(options.seed);
  const rampArea = (qps * ramp) / 2;
  const timeAt = (lambda: number) => (lambda < rampArea ? Math.sqrt((2 * ramp * lambda) / qps) : ramp + (lambda - rampArea) / qps);
  let lambda = 0;
  for (;;) {
    lambda += options.arrival === 'poisson' ? -Math.log(1 - uniform()) : 1;
    const t = timeAt(lambda);
    if (t >= duration) return;
    yield t;
  }
}

export function runOpenLoop(options: OpenLoopOptions): Promise<OpenLoopResult> {
  const arrivals = arrivalTimes(options);
  const latenciesMs: number[] = [];
  const timeline: number[] = new Array(Math.ceil(options.durationSeconds + options.drainSeconds) + 1).fill(0);
  const errorSamples: string[] = [];
  // The queue holds scheduled times (ms); head advances instead of shifting.
  const queue: number[] = [];
  let head = 0;
  let scheduled = 0;
  let errors = 0;
  let dropped = 0;
  let inFlight = 0;
  let queueMsTotal = 0;
  let lastCompletion = 0;
  let next = arrivals.next();
  let timer: NodeJS.Timeout | null = null;
  let draining = false;
  const drainDeadlineMs = (options.durationSeconds + options.drainSeconds) * 1000;
  const start = performance.now();

  return new Promise((resolve) => {
    const finish = () => {
      if (timer) clearTimeout(timer);
      resolve({
        scheduled,
        completed: latenciesMs.length,
        errors,
        dropped,
        latenciesMs,
        meanQueueMs: latenciesMs.length ? queueMsTotal / latenciesMs.length : 0,
        timeline,
        elapsedSeconds: Math.max(lastCompletion, 1) / 1000,
        errorSamples,
      });
    };

    const launch = (scheduledMs: number, index: number) => {
      inFlight++;
      const startedMs = performance.now() - start;
      options.run(index).then(
        () => {
          const doneMs = performance.now() - start;
          latenciesMs.push(doneMs - scheduledMs);
          queueMsTotal += startedMs - scheduledMs;
          const second = Math.floor(doneMs / 1000);
          if (second < timeline.length) timeline[second]!++;
        },
        (error: unknown) => {
          errors++;
          if (errorSamples.length < 5) errorSamples.push(error instanceof Error ? error.message : String(error));
        },
      ).finally(() => {
        inFlight--;
        lastCompletion = performance.now() - start;
        pump();
      });
    };

    let launched = 0;
    const pump = () => {
      const nowMs = performance.now() - start;
      while (!next.done && next.value * 1000 <= nowMs) {
        scheduled++;
        if (queue.length - head >= options.maxQueue) dropped++;
        else queue.push(next.value * 1000);
        next = arrivals.next();
      }
      if (next.done && !draining && nowMs >= drainDeadlineMs) {
        draining = true;
        dropped += queue.length - head;
        head = queue.length;
      }
      while (inFlight < options.concurrency && head < queue.length) {
        launch(queue[head++]!, launched++);
      }
      if (head > 4096 && head * 2 > queue.length) {
        queue.splice(0, head);
        head = 0;
      }
      if (next.done && head >= queue.length && inFlight === 0) {
        finish();
        return;
      }
      if (timer) clearTimeout(timer);
      timer = null;
      const wakeAt = !next.done ? next.value * 1000 : head < queue.length ? drainDeadlineMs : null;
      if (wakeAt !== null) timer = setTimeout(pump, Math.max(0, wakeAt - nowMs));
    };
    pump();
  });
}
