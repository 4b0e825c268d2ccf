import { NamespaceNotAllowedError, ValidationError } from './errors.ts';

/**
 * An allow-list of namespaces: exact names, or patterns with `*` for any run of
 * characters ("agent-*"), or regular expressions. Absent: every namespace.
 */
export type NamespacePattern = string | RegExp;

export class NamespacePolicy {
  private readonly patterns: RegExp[] | null;

  constructor(allowed: readonly NamespacePattern[] | undefined) {
    this.patterns = allowed
      ? allowed.map((p) => (p instanceof RegExp ? p : new RegExp(`^${p.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`)))
      : null;
  }

  /** The namespace, checked: a non-empty string without NUL, at most 255 characters, allowed by the list. */
  check(namespace: unknown, what = 'namespace'): string {
    if (typeof namespace !== 'string') throw new ValidationError(`${what} must be a string, got ${namespace === null ? 'null' : typeof namespace}`);
    if (namespace.trim() === '') throw new ValidationError(`${what} must not be empty`);
    if (namespace.length > 255) throw new ValidationError(`${what} is ${namespace.length} characters long; at most 255`);
    if (namespace.includes('\0')) throw new ValidationError(`${what} must not contain a NUL character`);
    if (this.patterns && !this.patterns.some((p) => p.test(namespace))) {
      throw new NamespaceNotAllowedError(`namespace ${JSON.stringify(namespace)} is not one this client may use (allowed: ${this.patterns.map((p) => p.source).join(', ')})`, namespace);
    }
    return namespace;
  }
}

/** A key or other required text: a non-empty string without NUL. */
export function requireText(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new ValidationError(`${what} must be a string, got ${value === null ? 'null' : typeof value}`);
  if (value === '') throw new ValidationError(`${what} must not be empty`);
  if (value.includes('\0')) throw new ValidationError(`${what} must not contain a NUL character`);
  return value;
}

export function optionalText(value: unknown, what: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw new ValidationError(`${what} must be a string or null, got ${typeof value}`);
  if (value.includes('\0')) throw new ValidationError(`${what} must not contain a NUL character`);
  return value;
}

export function integerIn(value: unknown, what: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ValidationError(`${what} must be a whole number from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

export function numberIn(value: unknown, what: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new ValidationError(`${what} must be a number from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

/** A JSON object (metadata, properties, state): serialised here, so that a cycle or a BigInt fails before sending. */
export function jsonObject(value: unknown, what: string): string {
  if (value === undefined || value === null) return '{}';
  if (typeof value !== 'object' || Array.isArray(value)) throw new ValidationError(`${what} must be a plain object, got ${Array.isArray(value) ? 'an array' : typeof value}`);
  return jsonText(value, what);
}

export function jsonText(value: unknown, what: string): string {
  try {
    return JSON.stringify(value);
  } catch (error) {
    throw new ValidationError(`${what} cannot be stored as JSON: ${(error as Error).message}`);
  }
}

export function tagList(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((t) => typeof t !== 'string' || t.includes('\0'))) throw new ValidationError('tags must be an array of strings');
  return value as string[];
}

/** An expiry: a Date, or seconds from now (ttlSeconds); null: never. */
export function expiry(expiresAt: unknown, ttlSeconds: unknown): Date | null {
  if (expiresAt !== undefined && expiresAt !== null && ttlSeconds !== undefined && ttlSeconds !== null) throw new ValidationError('give expiresAt or ttlSeconds, not both');
  if (ttlSeconds !== undefined && ttlSeconds !== null) return new Date(Date.now() + numberIn(ttlSeconds, 'ttlSeconds', 0.001, 100 * 365 * 86400) * 1000);
  if (expiresAt === undefined || expiresAt === null) return null;
  if (!(expiresAt instanceof Date) || Number.isNaN(expiresAt.getTime())) throw new ValidationError('expiresAt must be a valid Date');
  return expiresAt;
}
