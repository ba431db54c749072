/**
 * Knex on the router: `knex({ client: 'mysql2', connectionPool: rwsplitPool(db) })` (knex ≥ 3.3), where
 * `db` is the router, a session (`req.db`), or a function that returns one per query. Every statement is
 * routed by the router: reads to replicas in rotation, writes to the primary, `knex.transaction()` on one
 * primary connection (`{ readOnly: true }` on a replica that has the session's writes), read-your-writes
 * through a session's token.
 *
 * The seam: knex 3.3's `connectionPool` option takes a native mysql2 pool. Its mysql2 client wraps it
 * (`Client_MySQL.wrapNativePool`): `getConnection(callback)` per query and per transaction, `release()` on
 * the connection after it (or `destroy()` after a `.timeout()`), and nothing on knex's `destroy()` (knex
 * does not own such a pool). Its queries call `connection.query(options, bindings, callback)`, its streams
 * `connection.query(options, bindings).stream(options)`. Neither knex nor this pool needs anything else
 * (no events: those are for connections knex opens itself).
 *
 * knex is an optional peer; this module does not even import it (the pool is duck-typed on knex's side).
 */
import { InvalidArgumentError } from '../errors.js';
import { RwsplitKnexConnection } from './knex-connection.js';
import { type RoutedClient, routedClient } from './routed-client.js';

export {
  type KnexQueryCallback,
  type KnexQueryStream,
  RwsplitKnexConnection,
} from './knex-connection.js';
export type { RoutedClient } from './routed-client.js';

/**
 * What the pool runs each query on: the router, a session, or a function called once per query (and per
 * transaction) that returns one. The function form is for one app-wide knex instance with per-request
 * sessions: `() => currentSession() ?? router`, with `rwsplitMiddleware(router, { currentSession: true })`.
 * (A knex instance per request over `req.db` works too, but `knex()` costs some 150 µs to build.)
 */
export type KnexClientSource = RoutedClient | (() => RoutedClient);

/** mysql2's `getConnection` callback, as knex passes it. */
export type KnexConnectionCallback = (error: Error | null, connection?: RwsplitKnexConnection) => void;

/**
 * The mysql2-like pool knex's `connectionPool` takes. It holds no connections (the router's pools do):
 * `getConnection` hands out a `RwsplitKnexConnection`, which takes one only for a transaction.
 */
export class RwsplitKnexPool {
  private readonly resolve: () => RoutedClient;

  constructor(source: KnexClientSource) {
    if (typeof source === 'function') {
      this.resolve = () => routedClient(source(), 'The function given to rwsplitPool()');
    } else {
      const client = routedClient(source, 'rwsplitPool(db)');
      this.resolve = () => client;
    }
  }

  getConnection(callback: KnexConnectionCallback): void {
    if (typeof callback !== 'function') {
      throw new InvalidArgumentError(
        'getConnection() needs a callback',
        'Pass this pool to knex as connectionPool.',
      );
    }
    let connection: RwsplitKnexConnection;
    try {
      connection = new RwsplitKnexConnection(this.resolve());
    } catch (error) {
      queueMicrotask(() => callback(error instanceof Error ? error : new Error(String(error))));
      return;
    }
    // Never synchronously, as mysql2 does not: the caller's code after getConnection() runs first.
    queueMicrotask(() => callback(null, connection));
  }

  /**
   * Calls back at once: the pool holds nothing, and the router belongs to the app (it may serve more than
   * knex). Close it with `router.close()`. Knex itself never calls this.
   */
  end(callback?: (error?: Error) => void): void {
    if (callback !== undefined) queueMicrotask(() => callback());
  }
}

/** The `connectionPool` for `knex({ client: 'mysql2', connectionPool: rwsplitPool(db) })`. */
export function rwsplitPool(db: KnexClientSource): RwsplitKnexPool {
  return new RwsplitKnexPool(db);
}
