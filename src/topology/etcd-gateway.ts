/** Calls of etcd's v3 JSON gateway with authentication (etcd 3.4: /v3/auth/authenticate, then the token in the Authorization header). */

export interface EtcdLogin {
  user: string;
  password: string;
}

export class EtcdAuthError extends Error {}

/** Keys and values travel base64-encoded through the gateway. */
export const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
export const unb64 = (text: string | undefined) => Buffer.from(text ?? '', 'base64').toString('utf8');

/** The first key after every key starting with `prefix` (etcd's range_end for a prefix), base64-encoded. */
export function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix, 'utf8');
  bytes[bytes.length - 1]!++;
  return bytes.toString('base64');
}

/** One call of the gateway; the parsed body, or an EtcdAuthError with etcd's message. */
export async function etcdCall(endpoint: string, path: string, body: object, token?: string | null): Promise<Record<string, unknown>> {
  const response = await fetch(`${endpoint}/v3/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: token } : {}) },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
  const text = await response.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // etcd answered something else
  }
  if (!response.ok) throw new EtcdAuthError(String(parsed.message ?? parsed.error ?? text ?? response.status));
  return parsed;
}

/** A token for `login`; null when etcd has authentication off (requests then need none). */
export async function etcdToken(endpoint: string, login: EtcdLogin): Promise<string | null> {
  try {
    const answer = await etcdCall(endpoint, 'auth/authenticate', { name: login.user, password: login.password });
    return typeof answer.token === 'string' ? answer.token : null;
  } catch (error) {
    if (/authentication is not enabled/.test((error as Error).message)) return null;
    throw error;
  }
}

