import { InvalidArgumentError } from '../errors.js';
import type { Router } from '../router.js';
import type { Session } from '../session.js';

/** What an ORM adapter runs on: the router, or a session (`db.session()`, the Express middleware's `req.db`). */
export type RoutedClient = Router | Session;

/**
 * True for a router or a session. Duck-typed on the three methods the adapters call, so a router from
 * another copy of this package (or a test's stand-in) passes too.
 */
export function isRoutedClient(value: unknown): value is RoutedClient {
  if (typeof value !== 'object' || value === null) return false;
  const { query, execute, transaction } = value as Partial<Record<string, unknown>>;
  return typeof query === 'function' && typeof execute === 'function' && typeof transaction === 'function';
}

/** `value` as a client, or `InvalidArgumentError` naming `where` (checked once, when the adapter is made). */
export function routedClient(value: unknown, where: string): RoutedClient {
  if (isRoutedClient(value)) return value;
  throw new InvalidArgumentError(
    `${where} needs a router from createRouter() or a session (db.session(), req.db)`,
    'Pass the router or the session itself, not a mysql2 pool or connection.',
  );
}

/**
 * A router can open sessions of its own; a session cannot (it is one already). The Kysely adapter opens one
 * for a connection that needs connection state.
 */
export function opensSessions(client: RoutedClient): client is Router {
  return typeof (client as Partial<Router>).session === 'function';
}
