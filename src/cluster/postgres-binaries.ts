import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const POSTGRES_MAJOR = 15;

/** Debian installs each major version's server binaries here, outside PATH. */
export function postgresBinDir(major = POSTGRES_MAJOR): string {
  return `/usr/lib/postgresql/${major}/bin`;
}

export function postgresBinary(name: string, major = POSTGRES_MAJOR): string {
  return join(postgresBinDir(major), name);
}

export function postgresInstalled(major = POSTGRES_MAJOR): boolean {
  return existsSync(postgresBinary('postgres', major)) && existsSync(postgresBinary('initdb', major));
}
