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
import { InvalidArgumentError } from './errors.js';
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
  /**
   * Also makes the request's session what `currentSession()` returns, for code without `req` at hand.
   * Off by default because of what it costs on Node 20 and 22: an `AsyncLocalStorage` in use makes
   * every promise the process creates pay an async hook (a fraction of a µs each, a few µs for a
   * request that awaits a statement), requests that never call `currentSession()` included. `req.db`
   * needs none of it. Default: `false`.
   */
  readonly currentSession?: boolean;
}

/**
 * What the middleware adds to a request. Express's `Request` has it as soon as this module is imported (below);
 * with another framework, type the request as `IncomingMessage & RwsplitRequest`.
 */
export interface RwsplitRequest {
  /** The request's session: `query`, `execute`, `transaction`, `token()`. Released when the response ends. */
  db: Session;
}

// Importing this module types `req.db` on Express's `Request`, so handlers need no cast. The `Express.Request`
// global is the extension point express-serve-static-core's typings document: their `Request` extends it, in
// Express 4 and 5 alike. Merging it needs nothing resolved. `declare module 'express-serve-static-core'`
// would not: an augmentation never brings its module into the program, so it is an error (TS2664) in every
// program that does not load those typings already, this package's build and apps without Express included.
declare global {
  namespace Express {
    interface Request extends RwsplitRequest {}
  }
}

type Next = (error?: unknown) => void;

const requestScope = new AsyncLocalStorage<Session>();
/** Whether any middleware was made with `currentSession: true`, so `requestScope` is in use. */
let scopeInUse = false;

/**
 * The current request's session, for code that has no `req` at hand (repositories, services);
 * undefined outside a request. Needs `rwsplitMiddleware(db, { currentSession: true })`.
 */
export function currentSession(): Session | undefined {
  if (!scopeInUse) {
    throw new InvalidArgumentError(
      'currentSession() has no request to look at: no middleware was made with { currentSession: true }',
      'Pass { currentSession: true } to rwsplitMiddleware(), or use req.db.',
    );
  }
  return requestScope.getStore();
}

function readCookie(header: string | undefined, name: string): string | undefined {
  // Most requests carry other cookies or none: skip the split unless the name can be there at all.
  if (!header?.includes(name)) return undefined;
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

/** Sets the token cookie, replacing the one an earlier write of the same request set; keeps other cookies. */
function setTokenCookie(res: ServerResponse, name: string, cookie: string): void {
  const existing = res.getHeader('set-cookie');
  const list = existing === undefined ? [] : Array.isArray(existing) ? existing : [String(existing)];
  res.setHeader('set-cookie', [...list.filter((c) => !c.startsWith(`${name}=`)), cookie]);
}

/** The options with their defaults, resolved once per middleware. */
interface Settings {
  readonly cookieName: string;
  readonly headerName: string;
  readonly cookieAttributes: string;
  /** The session's consistency when overridden. */
  readonly consistency: ConsistencyMode | undefined;
}

/**
 * Sends the session's token if the request changed it. Runs after each write of the session, which comes
 * before the handler answers: a token that changes once the response has started cannot go out (headers
 * are sent), and the client's next read then gets only what its cookie already held.
 */
function sendToken(
  settings: Settings,
  req: IncomingMessage,
  res: ServerResponse,
  session: Session,
  incoming: string | undefined,
): void {
  const token = session.token();
  if (token === undefined || token === incoming || res.headersSent) return;
  res.setHeader(settings.headerName, token);
  const secure = isSecure(req) ? '; Secure' : '';
  setTokenCookie(
    res,
    settings.cookieName,
    `${settings.cookieName}=${encodeURIComponent(token)}${settings.cookieAttributes}${secure}`,
  );
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
  const settings: Settings = {
    cookieName: options.cookieName ?? 'rwsplit_ct',
    headerName: (options.headerName ?? 'x-consistency-token').toLowerCase(),
    cookieAttributes: `; Path=${options.path ?? '/'}; Max-Age=${options.maxAgeSeconds ?? 300}; HttpOnly; SameSite=Lax`,
    consistency: options.consistency,
  };
  const { cookieName, headerName, consistency } = settings;
  const scoped = options.currentSession === true;
  if (scoped) scopeInUse = true;

  return (req, res, next) => {
    const incoming = firstHeader(req.headers[headerName]) ?? readCookie(req.headers.cookie, cookieName);
    // The token goes out as soon as a write changes it (no hook on the response: a property added to
    // Express's per-request objects costs microseconds on Node 20). Per-request closures stay anonymous:
    // a named one costs a defineProperty per request where the code runs through esbuild's keepNames (tsx).
    const session: Session = db.session({
      token: incoming,
      consistency,
      onTokenChange: () => sendToken(settings, req, res, session, incoming),
    });
    (req as IncomingMessage & Partial<RwsplitRequest>).db = session;
    // A response emits 'close' once, whether it finished or its connection went away first.
    res.on('close', () => session.release());
    if (scoped) requestScope.run(session, next);
    else next();
  };
}
