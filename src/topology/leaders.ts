import type { NodeInfo } from './snapshot.ts';
import { b64, etcdToken, prefixEnd, unb64, type EtcdLogin } from './etcd-gateway.ts';

/**
 * Which node of a group is its primary now, as Patroni reports it (GET /cluster on
 * any member's REST API). The catalog lists every node; Patroni decides the leader.
 */
export async function findGroupLeader(nodes: readonly NodeInfo[], timeoutMs = 1000): Promise<NodeInfo | null> {
  for (const node of nodes) {
    try {
      const response = await fetch(`http://${node.host}:${node.patroniPort}/cluster`, { signal: AbortSignal.timeout(timeoutMs) });
      if (!response.ok) continue;
      const body = (await response.json()) as { members?: { name: string; role: string; state: string }[] };
      const leader = body.members?.find((m) => m.role === 'leader' && m.state === 'running');
      if (leader) return nodes.find((n) => n.name === leader.name) ?? null;
    } catch {
      // try the next member
    }
  }
  return null;
}

interface EtcdKv {
  key?: string;
  value?: string;
}

/**
 * Follows the leader of every Patroni cluster (one per dpg group) through etcd: the
 * leader key `<namespace><scope>/leader` holds the leader's member name while it
 * holds the lock, and is deleted (or expires) when it lets go. A range read gives
 * the leaders now; a watch from the next revision (etcd's v3 JSON gateway, one
 * long-lived HTTP response) reports each change as it happens, so coordinators route
 * to a new primary the moment Patroni has elected it. When etcd cannot be reached
 * `connected` is false and callers ask Patroni's REST API instead.
 */
export class LeaderWatcher {
  /** Leader member name by scope; null while the group has none (failover under way). */
  readonly leaders = new Map<string, string | null>();
  connected = false;
  private stopped = false;
  private abort: AbortController | null = null;
  private endpointIndex = 0;
  private readonly pattern: RegExp;

  /** etcd's token for `login` (null: none yet, or authentication is off). */
  private token: string | null = null;

  constructor(
    private readonly endpoints: readonly string[],
    private readonly prefix: string,
    private readonly onChange: (scope: string, leader: string | null) => void,
    private readonly log: (line: string) => void,
    private readonly login?: EtcdLogin,
  ) {
    const escaped = prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    this.pattern = new RegExp(`^${escaped}([^/]+)/leader$`);
  }

  start(): void {
    void this.run();
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      const endpoint = this.endpoints[this.endpointIndex % this.endpoints.length]!;
      try {
        await this.follow(endpoint);
        failures = 0;
      } catch (error) {
        if (this.stopped) break;
        if (failures++ === 0) this.log(`leader watch on etcd ${endpoint}: ${(error as Error).message}; Patroni's REST API answers until it is back`);
      }
      this.connected = false;
      this.endpointIndex++;
      if (!this.stopped) await new Promise((r) => setTimeout(r, Math.min(2000, 200 * failures)).unref());
    }
  }

  /** One range read and one watch on `endpoint`; returns when the watch stream ends. */
  private async follow(endpoint: string): Promise<void> {
    this.abort = new AbortController();
    const signal = this.abort.signal;
    // A token per round: a failed range or watch (an expired token among the causes) starts over with a new one.
    this.token = this.login ? await etcdToken(endpoint, this.login) : null;
    const headers: Record<string, string> = this.token ? { authorization: this.token } : {};
    const range = await fetch(`${endpoint}/v3/kv/range`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ key: b64(this.prefix), range_end: prefixEnd(this.prefix) }),
      signal: AbortSignal.any([signal, AbortSignal.timeout(3000)]),
    });
    if (!range.ok) throw new Error(`range read: HTTP ${range.status} ${(await range.text()).slice(0, 200)}`);
    const body = (await range.json()) as { header?: { revision?: string }; kvs?: EtcdKv[] };
    const seen = new Set<string>();
    for (const kv of body.kvs ?? []) {
      const scope = this.pattern.exec(unb64(kv.key))?.[1];
      if (!scope) continue;
      seen.add(scope);
      this.set(scope, unb64(kv.value));
    }
    for (const scope of this.leaders.keys()) if (!seen.has(scope)) this.set(scope, null);
    const revision = Number(body.header?.revision ?? 0);

    const watch = await fetch(`${endpoint}/v3/watch`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ create_request: { key: b64(this.prefix), range_end: prefixEnd(this.prefix), start_revision: String(revision + 1) } }),
      signal,
    });
    if (!watch.ok || !watch.body) throw new Error(`watch: HTTP ${watch.status}`);
    this.connected = true;
    const decoder = new TextDecoder();
    let buffered = '';
    for await (const chunk of watch.body as unknown as AsyncIterable<Uint8Array>) {
      buffered += decoder.decode(chunk, { stream: true });
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (line) this.event(line);
      }
    }
    throw new Error('the watch stream ended');
  }

  private event(line: string): void {
    const message = JSON.parse(line) as { result?: { canceled?: boolean; cancel_reason?: string; events?: { type?: string; kv?: EtcdKv }[] }; error?: { message?: string } };
    if (message.error) throw new Error(message.error.message ?? 'watch error');
    if (message.result?.canceled) throw new Error(`watch canceled: ${message.result.cancel_reason ?? 'no reason given'}`);
    for (const event of message.result?.events ?? []) {
      const scope = this.pattern.exec(unb64(event.kv?.key))?.[1];
      if (!scope) continue;
      this.set(scope, event.type === 'DELETE' ? null : unb64(event.kv?.value));
    }
  }

  private set(scope: string, leader: string | null): void {
    if (this.leaders.has(scope) && this.leaders.get(scope) === leader) return;
    this.leaders.set(scope, leader);
    this.onChange(scope, leader);
  }
}
