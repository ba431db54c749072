/**
 * Read-your-writes across app servers for Express (or any `(req, res, next)` framework):
 * `app.use(rwsplitMiddleware(db))` gives each request `req.db`, a `Session` resumed from the consistency
 * token the client sent back (cookie, or `X-Consistency-Token` for API clients). After the request
 * wrote, the new token goes out on the response, so the user's next read sees the write even when the
 * load balancer sends it to the other server.
 *
 * Express is an optional peer: this module only relies on Node's `IncomingMessage`/`ServerResponse`.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ConsistencyMode } from './consistency/consistency-config.js';
import type { Router } from './router.js';
import type { Session } from './session.js';

export interface RwsplitMiddlewareOptions {
  /** Cookie that carries the token. Default: `rwsplit_ct`. */
  readonly cookieName?: string;
  /** Request and response header for API clients. Default: `x-consistency-token`. */
  readonly headerName?: string;
  /**
   * Cookie lifetime in seconds. A token only has to outlive replication lag, so it is short.
   * Default: `300`.
   */
  readonly maxAgeSeconds?: number;
  /** Cookie `Path`. Default: `/`. */
  readonly path?: string;
  /** Consistency for the request's session. Default: the router's. */
  readonly consistency?: ConsistencyMode;
}

/** What the middleware adds to a request. */
export interface RwsplitRequest {
  /** The request's session: `query`, `execute`, `transaction`, `token()`. Released when the response ends. */
  db: Session;
}

type Next = (error?: unknown) => void;

const requestScope = new AsyncLocalStorage<Session>();

/** The current request's session, for code that has no `req` at hand (repositories, services). */
export function currentSession(): Session | undefined {
  return requestScope.getStore();
}

function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim();
      try {
        return decodeURIComponent(value);
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function isSecure(req: IncomingMessage): boolean {
  const flagged = (req as IncomingMessage & { secure?: boolean }).secure;
  if (flagged === true) return true;
  if ((req.socket as { encrypted?: boolean }).encrypted) return true;
  // Behind the TLS-terminating load balancer the app sees plain HTTP and the LB's header.
  return firstHeader(req.headers['x-forwarded-proto'])?.split(',')[0]?.trim() === 'https';
}

function appendSetCookie(res: ServerResponse, cookie: string): void {
  const existing = res.getHeader('set-cookie');
  const list = existing === undefined ? [] : Array.isArray(existing) ? existing : [String(existing)];
  res.setHeader('set-cookie', [...list, cookie]);
}

/**
 * The middleware. The token is opaque, versioned and validated. No token means the client wrote nothing
 * recently: reads go to replicas. A corrupt or forged token makes the request's reads go to the primary
 * (never an error page).
 */
export function rwsplitMiddleware(
  db: Router,
  options: RwsplitMiddlewareOptions = {},
): (req: IncomingMessage, res: ServerResponse, next: Next) => void {
  const cookieName = options.cookieName ?? 'rwsplit_ct';
  const headerName = (options.headerName ?? 'x-consistency-token').toLowerCase();
  const maxAge = options.maxAgeSeconds ?? 300;
  const path = options.path ?? '/';

  return (req, res, next) => {
    const incoming = firstHeader(req.headers[headerName]) ?? readCookie(req.headers.cookie, cookieName);
    const session = db.session({
      ...(incoming === undefined ? {} : { token: incoming }),
      ...(options.consistency === undefined ? {} : { consistency: options.consistency }),
    });
    (req as IncomingMessage & Partial<RwsplitRequest>).db = session;

    // Headers must be set before they are sent: hook writeHead, which every response path goes through.
    const writeHead = res.writeHead;
    res.writeHead = function writeHeadWithToken(this: ServerResponse, ...args: unknown[]) {
      const token = session.token();
      if (token !== undefined && token !== incoming && !res.headersSent) {
        res.setHeader(headerName, token);
        const secure = isSecure(req) ? '; Secure' : '';
        appendSetCookie(
          res,
          `${cookieName}=${encodeURIComponent(token)}; Path=${path}; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${secure}`,
        );
      }
      return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
    } as typeof res.writeHead;

    const release = () => session.release();
    res.once('finish', release);
    res.once('close', release);
    requestScope.run(session, () => next());
  };
}
