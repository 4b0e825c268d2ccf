import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allNodes, type ClusterLayout } from '../cluster/layout.ts';
import { startDetached, type ProcessRecord } from '../cluster/processes.ts';

export const FAULT_PROXY_PROCESS = 'fault-proxy';
const DPG_BIN = fileURLToPath(new URL('../../bin/dpg.mjs', import.meta.url));

/**
 * dpg's fault-injecting TCP proxy (cluster.fault_proxies): every node's PostgreSQL is
 * reached by the coordinators through one port of it, and every node's Patroni reaches
 * etcd through another. Cutting a node stops both links at once: by default traffic is
 * dropped (connections stay open and nothing passes, new ones are accepted and hear
 * nothing, as in a network partition where packets vanish); with ?mode=reset they are
 * reset and new ones closed on arrival. The node keeps running and keeps its
 * replication to its standbys, but it can neither renew its leader key nor hear from
 * a coordinator. Healing closes what the cut held and lets new connections through.
 * Control: HTTP on 127.0.0.1, POST /cut/<node>[?mode=reset], POST /heal/<node>, GET /state.
 */
export class FaultProxy {
  private readonly servers: Server[] = [];
  private http: HttpServer | null = null;
  /** Cut nodes and how: 'drop' (nothing passes, nothing is closed) or 'reset'. */
  private readonly cut = new Map<string, 'drop' | 'reset'>();
  private readonly open = new Map<string, Set<Socket>>();

  constructor(private readonly layout: ClusterLayout) {}

  async start(): Promise<void> {
    const etcd = new URL(this.layout.etcd.endpoints[0]!);
    for (const node of allNodes(this.layout)) {
      await this.link(node.name, node.proxyPgPort, node.host, node.pgPort);
      await this.link(node.name, node.proxyEtcdPort, etcd.hostname, Number(etcd.port));
    }
    this.http = createHttpServer((request, response) => {
      const match = /^\/(cut|heal)\/([A-Za-z0-9_-]+)(\?mode=(drop|reset))?$/.exec(request.url ?? '');
      if (request.method === 'GET' && request.url === '/state') {
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ cut: Object.fromEntries(this.cut) }));
        return;
      }
      if (request.method !== 'POST' || !match || !allNodes(this.layout).some((n) => n.name === match[2])) {
        response.writeHead(404).end('POST /cut/<node>, POST /heal/<node> or GET /state\n');
        return;
      }
      const [, action, node, , mode] = match as unknown as [string, 'cut' | 'heal', string, string | undefined, 'drop' | 'reset' | undefined];
      const sockets = this.open.get(node) ?? new Set<Socket>();
      if (action === 'cut') {
        this.cut.set(node, mode ?? 'drop');
        for (const socket of sockets) {
          if (mode === 'reset') socket.resetAndDestroy();
          else {
            // Nothing passes any more; nothing is closed either.
            socket.unpipe();
            socket.pause();
          }
        }
      } else {
        this.cut.delete(node);
        // What the cut held is dead to both ends, as after a long partition.
        for (const socket of sockets) if (socket.isPaused()) socket.resetAndDestroy();
      }
      response.writeHead(200).end(`${action} ${node}\n`);
    });
    await new Promise<void>((resolve, reject) => {
      this.http!.once('error', reject);
      this.http!.listen(this.layout.faultProxy!.controlPort, this.layout.host, () => resolve());
    });
  }

  private async link(node: string, port: number, targetHost: string, targetPort: number): Promise<void> {
    const sockets = this.open.get(node) ?? new Set<Socket>();
    this.open.set(node, sockets);
    const server = createServer((client) => {
      const cut = this.cut.get(node);
      if (cut === 'reset') {
        client.resetAndDestroy();
        return;
      }
      if (cut === 'drop') {
        // Accepted, and then nothing: held until the cut heals.
        client.pause();
        sockets.add(client);
        client.on('close', () => sockets.delete(client));
        client.on('error', () => client.destroy());
        return;
      }
      const upstream = connect({ host: targetHost, port: targetPort });
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.layout.host, () => resolve());
    });
    this.servers.push(server);
  }

  async stop(): Promise<void> {
    for (const sockets of this.open.values()) for (const socket of sockets) socket.destroy();
    await Promise.all([...this.servers, ...(this.http ? [this.http] : [])].map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

/** Starts `dpg fault-proxy` for the cluster, detached, recorded like the other processes. */
export function startFaultProxy(layout: ClusterLayout, configFile: string): ProcessRecord {
  return startDetached(layout.runDir, {
    name: FAULT_PROXY_PROCESS,
    command: process.execPath,
    args: [DPG_BIN, 'fault-proxy', '--config', configFile],
    logFile: layout.faultProxy!.logFile,
    // The config file is in the command line: it names this cluster's proxy.
    marker: `${configFile}`,
  });
}

/** Cuts a node off from etcd and from the coordinators, or lets it through again. */
export async function setNodeCut(layout: ClusterLayout, node: string, cut: boolean, mode: 'drop' | 'reset' = 'drop'): Promise<void> {
  if (!layout.faultProxy) throw new Error('the cluster has no fault proxy (cluster.fault_proxies)');
  const response = await fetch(`http://${layout.host}:${layout.faultProxy.controlPort}/${cut ? `cut/${node}?mode=${mode}` : `heal/${node}`}`, { method: 'POST' });
  if (!response.ok) throw new Error(`fault proxy: ${response.status} ${await response.text()}`);
}

export function faultProxyConfigFile(layout: ClusterLayout): string {
  return join(layout.dataDir, 'fault-proxy-config.json');
}
