import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import type { DpgConfig } from '../config/config.ts';
import type { ClusterLayout } from './layout.ts';

/** Where the client endpoint's certificate, key and CA live (absent: TLS is off). */
export interface TlsFiles {
  cert: string;
  key: string;
  /** The CA clients verify against (sslrootcert); null when config names none. */
  ca: string | null;
}

export function localTlsDir(layout: ClusterLayout): string {
  return join(layout.dataDir, 'tls');
}

/** The files the coordinators use: config's, or those dpg up makes for the local cluster. */
export function tlsFiles(config: DpgConfig, layout: ClusterLayout): TlsFiles | null {
  if (!config.tls.enabled) return null;
  if (config.tls.cert_file && config.tls.key_file) return { cert: config.tls.cert_file, key: config.tls.key_file, ca: config.tls.ca_file };
  const dir = localTlsDir(layout);
  return { cert: join(dir, 'server.crt'), key: join(dir, 'server.key'), ca: join(dir, 'ca.crt') };
}

/**
 * `url` asking for TLS: verify-full against the CA that signed the coordinators'
 * certificate (libpq, node-postgres and asyncpg read sslrootcert from the URL), or
 * sslmode=require when config names no CA. Unchanged when TLS is off.
 */
export function withTls(url: string, config: DpgConfig, layout: ClusterLayout): string {
  const files = tlsFiles(config, layout);
  if (!files) return url;
  const query = files.ca ? `sslmode=verify-full&sslrootcert=${encodeURIComponent(files.ca)}` : 'sslmode=require';
  return `${url}${url.includes('?') ? '&' : '?'}${query}`;
}

/**
 * The URL dpg's own tools connect with (dpg up's schema, demo, bench, chaos): cleartext
 * on loopback unless tls.required, so that a benchmark measures what a plain
 * PostgreSQL baseline does.
 */
export function toolUrl(url: string, config: DpgConfig, layout: ClusterLayout): string {
  return config.tls.required ? withTls(url, config, layout) : url;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * A CA and a server certificate signed by it for the local cluster (once; kept in the
 * data folder, keys mode 0600): the certificate names localhost and the cluster's host
 * address, so `sslmode=verify-full` with the CA as sslrootcert works.
 */
export function ensureLocalCertificates(config: DpgConfig, layout: ClusterLayout): TlsFiles | null {
  const files = tlsFiles(config, layout);
  if (!files || config.tls.cert_file) return files;
  makeCertificates(localTlsDir(layout), layout.host, 'dpg local cluster CA');
  return files;
}

/** The nodes' own CA and certificate (PostgreSQL's ssl_cert_file): the coordinators verify every node link against it. */
export function nodeTlsFiles(layout: ClusterLayout): { cert: string; key: string; ca: string } {
  const dir = join(localTlsDir(layout), 'nodes');
  return { cert: join(dir, 'server.crt'), key: join(dir, 'server.key'), ca: join(dir, 'ca.crt') };
}

/** Made once for every cluster (whatever the client endpoint's tls says): links from coordinators to nodes are always TLS. */
export function ensureNodeCertificates(layout: ClusterLayout): { cert: string; key: string; ca: string } {
  makeCertificates(join(localTlsDir(layout), 'nodes'), layout.host, 'dpg cluster nodes CA');
  return nodeTlsFiles(layout);
}

/** A CA and a server certificate it signed, in `dir` (once; keys mode 0600), naming localhost, 127.0.0.1 and `host`. */
function makeCertificates(dir: string, host: string, caName: string): void {
  const wanted = ['ca.crt', 'ca.key', 'server.crt', 'server.key'];
  if (wanted.every((name) => existsSync(join(dir, name)))) return;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const work = mkdtempSync(join(tmpdir(), 'dpg-tls-'));
  try {
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    openssl(['req', '-x509', '-new', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '3650', '-subj', `/CN=${caName}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], work);
    openssl(['req', '-new', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost'], work);
    const names = [...new Set(['DNS:localhost', 'IP:127.0.0.1', /^\d+\.\d+\.\d+\.\d+$/.test(host) ? `IP:${host}` : `DNS:${host}`])];
    writeFileSync(join(work, 'server.ext'), `subjectAltName=${names.join(',')}\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n`);
    openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '825', '-extfile', 'server.ext'], work);
    for (const [name, mode] of [['ca.crt', 0o644], ['ca.key', 0o600], ['server.crt', 0o644], ['server.key', 0o600]] as const) {
      writeFileSync(join(dir, name), readFileSync(join(work, name)), { mode });
      chmodSync(join(dir, name), mode);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
