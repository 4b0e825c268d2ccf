import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import type { Server } from 'node:http';
import { startMetricsServer } from '../metrics/http.ts';

/**
 * Several coordinator processes on one host, sharing its client port (config
 * coordinator.processes): node:cluster's primary holds the listening socket and hands
 * each new connection to a worker in turn. Every worker is a whole coordinator (its own
 * catalog snapshot, leader watch, pools and plan cache); the primary runs no SQL. It
 * does what must be one per host:
 * - CancelRequest: a cancel arrives on a new connection, which may land on any worker.
 *   The process ids a worker hands out are ≡ its index (mod PROCESS_SLOTS), so a worker
 *   that does not own the key passes it through the primary to the one that does.
 * - max_client_connections: the slots are counted here, across the workers, so a client
 *   gets 53300 exactly when the host's coordinator has that many sessions.
 * - /metrics, /health, /ready: one endpoint for the host; /metrics aggregates the
 *   workers' registries (counters summed, gauges by their aggregator), /ready is ready
 *   when every worker is.
 * - A worker that dies is started again (its sessions are lost, as a coordinator's
 *   would be; its prepared transactions are settled by the recovery loop).
 */
export const PROCESS_SLOTS = 16;

const INDEX_ENV = 'DPG_COORDINATOR_PROCESS';

type ToWorker =
  | { dpg: 'cancel'; processId: number; secretKey: number }
  | { dpg: 'request'; id: number; kind: 'metrics' | 'ready' }
  | { dpg: 'slot'; id: number; granted: boolean };

type ToPrimary =
  | { dpg: 'cancel'; processId: number; secretKey: number }
  | { dpg: 'reply'; id: number; value: unknown }
  | { dpg: 'slot-acquire'; id: number }
  | { dpg: 'slot-release' }
  | { dpg: 'ready' };

type ReadyState = { ready: boolean; reason?: string };
type Metrics = MetricObjectWithValues<MetricValue<string>>[];
const CLIENT_CONNECTIONS = 'dpg_client_connections';

/** This process's index in the host's group: null when it is not a worker of one. */
export function processGroupIndex(): number | null {
  if (!cluster.isWorker) return null;
  const index = Number(process.env[INDEX_ENV]);
  return Number.isInteger(index) && index >= 0 && index < PROCESS_SLOTS ? index : null;
}

/** What a worker's coordinator gets from its group. */
export interface ProcessGroupMember {
  readonly index: number;
  /** Passes a cancel for a session of another worker to it. */
  forwardCancel(processId: number, secretKey: number): void;
  /** Takes one of the host's client slots; false when all are taken. */
  acquireSlot(): Promise<boolean>;
  releaseSlot(): void;
  /** Tells the primary this worker serves clients. */
  started(): void;
}

/** Joins the group as a worker: answers the primary's requests with the given handlers. */
export function joinProcessGroup(
  index: number,
  handlers: { cancel(processId: number, secretKey: number): void; metrics(): Promise<Metrics>; ready(): Promise<ReadyState> },
): ProcessGroupMember {
  const send = (message: ToPrimary) => {
    if (process.connected) process.send!(message);
  };
  const slotWaiters = new Map<number, (granted: boolean) => void>();
  let nextId = 1;
  process.on('message', (message: ToWorker) => {
    switch (message?.dpg) {
      case 'cancel':
        handlers.cancel(message.processId, message.secretKey);
        return;
      case 'slot':
        slotWaiters.get(message.id)?.(message.granted);
        slotWaiters.delete(message.id);
        return;
      case 'request': {
        const answer = message.kind === 'metrics' ? handlers.metrics() : handlers.ready();
        answer.then(
          (value) => send({ dpg: 'reply', id: message.id, value }),
          (error: Error) => send({ dpg: 'reply', id: message.id, value: message.kind === 'ready' ? { ready: false, reason: error.message } : [] }),
        );
        return;
      }
    }
  });
  // The primary is gone (killed, even with SIGKILL): its workers must not outlive it.
  process.on('disconnect', () => {
    for (const wake of slotWaiters.values()) wake(false);
    process.exit(0);
  });
  return {
    index,
    forwardCancel: (processId, secretKey) => send({ dpg: 'cancel', processId, secretKey }),
    acquireSlot: () =>
      new Promise((resolve) => {
        if (!process.connected) return resolve(false);
        const id = nextId++;
        slotWaiters.set(id, resolve);
        send({ dpg: 'slot-acquire', id });
      }),
    releaseSlot: () => send({ dpg: 'slot-release' }),
    started: () => send({ dpg: 'ready' }),
  };
}

export interface ProcessGroupOptions {
  processes: number;
  host: string;
  metricsPort: number | null;
  maxClients: number;
  log: (line: string) => void;
  /** How long a stopping worker may take before it is killed. */
  stopTimeoutMs?: number;
}

interface Member {
  index: number;
  worker: Worker;
  slots: number;
  ready: boolean;
}

/** Runs the group's primary: forks the workers and serves what is one per host. */
export async function runProcessGroup(options: ProcessGroupOptions): Promise<{ stop(): Promise<void> }> {
  const members = new Map<number, Member>();
  const pending = new Map<number, (value: unknown) => void>();
  let nextRequest = 1;
  let slotsTaken = 0;
  let stopping = false;
  let everReady = false;
  let markReady: () => void = () => {};
  let failStart: (error: Error) => void = () => {};
  const firstReady = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    failStart = reject;
  });

  const ask = (member: Member, kind: 'metrics' | 'ready', timeoutMs: number): Promise<unknown> =>
    new Promise((resolve) => {
      const id = nextRequest++;
      const timer = setTimeout(() => {
        pending.delete(id);
        resolve(null);
      }, timeoutMs);
      pending.set(id, (value) => {
        clearTimeout(timer);
        resolve(value);
      });
      try {
        member.worker.send({ dpg: 'request', id, kind } satisfies ToWorker);
      } catch {
        pending.delete(id);
        clearTimeout(timer);
        resolve(null);
      }
    });

  const toWorker = (member: Member | undefined, message: ToWorker) => {
    if (member && member.worker.isConnected()) member.worker.send(message);
  };

  const fork = (index: number) => {
    const worker = cluster.fork({ [INDEX_ENV]: String(index) });
    const member: Member = { index, worker, slots: 0, ready: false };
    members.set(index, member);
    worker.on('message', (message: ToPrimary) => {
      switch (message?.dpg) {
        case 'ready':
          member.ready = true;
          everReady = true;
          markReady();
          return;
        case 'reply':
          pending.get(message.id)?.(message.value);
          pending.delete(message.id);
          return;
        case 'cancel':
          toWorker(members.get(message.processId % PROCESS_SLOTS), message);
          return;
        case 'slot-acquire': {
          const granted = slotsTaken < options.maxClients;
          if (!granted) options.log(`client slots: all ${options.maxClients} taken (${[...members.values()].map((m) => `process ${m.index}: ${m.slots}`).join(', ')})`);
          if (granted) {
            slotsTaken++;
            member.slots++;
          }
          toWorker(member, { dpg: 'slot', id: message.id, granted });
          return;
        }
        case 'slot-release':
          if (member.slots > 0) {
            member.slots--;
            slotsTaken--;
          }
          return;
      }
    });
    worker.on('exit', (code, signal) => {
      // Its sessions are gone: so are their slots.
      slotsTaken -= member.slots;
      member.slots = 0;
      if (members.get(index) === member) members.delete(index);
      if (stopping) return;
      if (!everReady) {
        failStart(new Error(`coordinator process ${index} exited before it served (code ${code}, signal ${signal})`));
        return;
      }
      options.log(`coordinator process ${index} exited (code ${code}, signal ${signal}): starting it again`);
      setTimeout(() => {
        if (!stopping) fork(index);
      }, 500).unref();
    });
  };

  for (let index = 0; index < options.processes; index++) fork(index);
  await firstReady;

  let metricsServer: Server | null = null;
  if (options.metricsPort !== null) {
    metricsServer = await startMetricsServer(
      options.host,
      options.metricsPort,
      async () => {
        const answers = await Promise.all([...members.values()].map((m) => ask(m, 'metrics', 5_000)));
        const lists = answers.filter((l): l is Metrics => Array.isArray(l) && l.length > 0);
        if (lists.length < options.processes) options.log(`metrics: ${options.processes - lists.length} of ${options.processes} coordinator processes did not answer the scrape`);
        // The host's sessions are the slots counted here, which admission goes by.
        const sessions = lists.flatMap((list) => list.filter((metric) => metric.name === CLIENT_CONNECTIONS)).slice(0, 1);
        const registry = AggregatorRegistry.aggregate([
          ...lists.map((list) => list.filter((metric) => metric.name !== CLIENT_CONNECTIONS)),
          sessions.map((metric) => ({ ...metric, values: [{ labels: {}, value: slotsTaken }] })),
        ]);
        return { text: await registry.metrics(), contentType: registry.contentType };
      },
      async () => {
        if (stopping) return { ready: false, reason: 'shutting down' };
        for (let index = 0; index < options.processes; index++) {
          const member = members.get(index);
          if (!member || !member.ready) return { ready: false, reason: `coordinator process ${index} is starting` };
          const state = (await ask(member, 'ready', 5_000)) as ReadyState | null;
          if (!state) return { ready: false, reason: `coordinator process ${index} does not answer` };
          if (!state.ready) return { ready: false, reason: `coordinator process ${index}: ${state.reason}` };
        }
        return { ready: true };
      },
    );
  }
  options.log(`coordinator: ${options.processes} processes share ${options.host}'s client port`);

  return {
    async stop() {
      stopping = true;
      metricsServer?.close();
      const exits = [...members.values()].map(
        (member) =>
          new Promise<void>((resolve) => {
            if (member.worker.isDead()) return resolve();
            const timer = setTimeout(() => member.worker.process.kill('SIGKILL'), options.stopTimeoutMs ?? 8_000);
            member.worker.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            member.worker.process.kill('SIGTERM');
          }),
      );
      await Promise.all(exits);
    },
  };
}
