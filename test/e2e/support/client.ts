/**
 * A small HTTPS client for end-to-end tests that talk to the stack through HAProxy, as a user would.
 *
 * Every request goes out on a fresh connection (no keep-alive), so HAProxy balances each one on its own:
 * with round robin, consecutive requests land on alternate servers. A client may carry a `CookieJar`; it
 * then stores every `Set-Cookie` it is answered with and sends the cookies back, like a browser would,
 * which is how the consistency token (`rwsplit_ct`) travels between the user's requests.
 *
 * ```ts
 * const lb = LbClient.forCluster(cluster, { jar: new CookieJar() });
 * const created = await lb.post('/api/notes', { title: 'hello' });
 * const note = created.json<{ id: number }>();
 * const again = await lb.get(`/api/notes/${note.id}`);
 * again.servedBy; // 'server-1' | 'server-2'
 * ```
 */
import type { Cluster } from '@rwsplit/cluster';
import { fetchText, type HttpResponse } from '../../support/https.js';

/** Generous for two busy cores shared with other clusters. */
export const DEFAULT_TIMEOUT_MS = 10_000;

/** One answer, with the stack's own headers picked out. */
export class Reply {
  readonly status: number;
  readonly headers: HttpResponse['headers'];
  readonly body: string;

  constructor(response: HttpResponse) {
    this.status = response.status;
    this.headers = response.headers;
    this.body = response.body;
  }

  /** `X-Served-By`, set by each server's Nginx: `server-1` or `server-2`. */
  get servedBy(): string | undefined {
    return this.header('x-served-by');
  }

  /** `X-DB-Node`, set by the app: the DB node that answered its reads, or `none`. Absent when Nginx answered alone. */
  get dbNode(): string | undefined {
    return this.header('x-db-node');
  }

  get contentType(): string | undefined {
    return this.header('content-type');
  }

  /** A response header (name in lower case); the first value when it was sent more than once. */
  header(name: string): string | undefined {
    const value = this.headers[name.toLowerCase()];
    return Array.isArray(value) ? value[0] : value;
  }

  /** The body parsed as JSON. Throws, naming status and body, when it is not JSON. */
  json<T = unknown>(): T {
    try {
      return JSON.parse(this.body) as T;
    } catch {
      throw new Error(`expected a JSON body, got ${this.status}: ${this.body.slice(0, 200)}`);
    }
  }
}

/**
 * Cookies by name, as a browser would keep them for one site. Attributes (`Path`, `Secure`, `Max-Age`...)
 * are ignored: every test talks to one origin, over HTTPS, and finishes well within any lifetime.
 * A cookie set with `Max-Age=0` or an empty value is dropped.
 */
export class CookieJar {
  readonly #cookies = new Map<string, string>();

  /** Takes the `Set-Cookie` headers of a response. */
  store(headers: HttpResponse['headers']): void {
    const raw = headers['set-cookie'];
    const lines = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
    for (const line of lines) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some((a) => /^\s*max-age\s*=\s*0\s*$/i.test(a));
      if (value === '' || expired) this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }

  /** The `Cookie` request header, or undefined when the jar is empty. */
  header(): string | undefined {
    if (this.#cookies.size === 0) return undefined;
    return [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  /** A cookie's raw value. */
  get(name: string): string | undefined {
    return this.#cookies.get(name);
  }

  clear(): void {
    this.#cookies.clear();
  }
}

export interface SendOptions {
  readonly method?: string;
  /** Sent as the body with `Content-Type: application/json`. */
  readonly json?: unknown;
  /** A raw body; give the content type in `headers`. Ignored when `json` is given. */
  readonly body?: string;
  readonly headers?: Record<string, string>;
  /** Default: the client's. */
  readonly timeoutMs?: number;
}

export interface LbClientOptions {
  /** PEM to trust: the cluster CA that issued the LB's certificate. */
  readonly ca?: string;
  /** When given, cookies are stored from responses and sent back on requests. */
  readonly jar?: CookieJar;
  /** Per request. Default: `DEFAULT_TIMEOUT_MS`. */
  readonly timeoutMs?: number;
  /** Sent on every request (before per-request headers, which win). */
  readonly headers?: Record<string, string>;
}

/** Requests against one base URL (normally HAProxy's HTTPS address), each on its own connection. */
export class LbClient {
  readonly baseUrl: string;
  readonly jar: CookieJar | undefined;
  readonly #options: LbClientOptions;

  constructor(baseUrl: string, options: LbClientOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.jar = options.jar;
    this.#options = options;
  }

  /** A client for the cluster's load balancer over TLS, trusting its certificate. */
  static forCluster(cluster: Cluster, options: Omit<LbClientOptions, 'ca'> = {}): LbClient {
    return new LbClient(cluster.lb.httpsUrl, { ...options, ca: cluster.lb.certificatePem });
  }

  /** The same address and settings with another jar (or none): a second user of the same site. */
  withJar(jar: CookieJar | undefined): LbClient {
    const { jar: _old, ...rest } = this.#options;
    return new LbClient(this.baseUrl, jar === undefined ? rest : { ...rest, jar });
  }

  /** `path` starts with `/`. Rejects only when no answer came (refused, reset, timeout). */
  async send(path: string, options: SendOptions = {}): Promise<Reply> {
    const headers: Record<string, string> = { ...this.#options.headers };
    let body = options.body;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers['content-type'] = 'application/json';
    }
    const cookie = this.jar?.header();
    if (cookie !== undefined) headers.cookie = cookie;
    Object.assign(headers, options.headers);

    const response = await fetchText(`${this.baseUrl}${path}`, {
      method: options.method ?? 'GET',
      headers,
      timeoutMs: options.timeoutMs ?? this.#options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      ...(body === undefined ? {} : { body }),
      ...(this.#options.ca === undefined ? {} : { ca: this.#options.ca }),
    });
    this.jar?.store(response.headers);
    return new Reply(response);
  }

  get(path: string, options: Omit<SendOptions, 'method'> = {}): Promise<Reply> {
    return this.send(path, { ...options, method: 'GET' });
  }

  post(path: string, json: unknown, options: Omit<SendOptions, 'method' | 'json'> = {}): Promise<Reply> {
    return this.send(path, { ...options, method: 'POST', json });
  }

  patch(path: string, json: unknown, options: Omit<SendOptions, 'method' | 'json'> = {}): Promise<Reply> {
    return this.send(path, { ...options, method: 'PATCH', json });
  }

  delete(path: string, options: Omit<SendOptions, 'method'> = {}): Promise<Reply> {
    return this.send(path, { ...options, method: 'DELETE' });
  }
}

/** How many of `count` sequential GETs of `path` each server answered, by `X-Served-By` (`'?'` when absent). */
export async function collectServedBy(
  client: LbClient,
  path: string,
  count: number,
): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const reply = await client.get(path);
    const server = reply.servedBy ?? '?';
    counts.set(server, (counts.get(server) ?? 0) + 1);
  }
  return counts;
}
