/**
 * Drizzle ORM on the router: `drizzle(router)` or `drizzle(req.db)` gives drizzle-orm's own mysql2
 * database (`MySql2Database`: query builders, relational queries, `$returningId()`, transactions with
 * savepoints, the migrator), typed without a cast, with every statement routed by the router: reads to
 * replicas in rotation, writes and transactions on the primary, read-only transactions
 * (`accessMode: 'read only'`) on a replica that has the session's writes, read-your-writes through a
 * session's token.
 *
 * drizzle-orm is an optional peer: only this module imports it.
 */
import { drizzle as drizzleMysql2, type MySql2Database, type MySql2DrizzleConfig } from 'drizzle-orm/mysql2';
import type { Pool } from 'mysql2/promise';
import { InvalidArgumentError } from '../errors.js';
import type { Router } from '../router.js';
import type { Session } from '../session.js';
import { DrizzlePool } from './drizzle-pool.js';

export { rwsplitErrorOf } from './error-cause.js';

/** What Drizzle can run on: the router (a pool), or a session from `db.session()` or the Express middleware's `req.db`. */
export type DrizzleClient = Router | Session;

/** drizzle-orm/mysql2's own configuration (`schema` with `mode`, `logger`, `casing`, `cache`). */
export type RwsplitDrizzleConfig<TSchema extends Record<string, unknown> = Record<string, never>> =
  MySql2DrizzleConfig<TSchema>;

/** drizzle-orm's mysql2 database, whose `$client` is the router or session it runs on. */
export type RwsplitDrizzleDatabase<
  TSchema extends Record<string, unknown> = Record<string, never>,
  TClient extends DrizzleClient = DrizzleClient,
> = MySql2Database<TSchema> & { $client: TClient };

/**
 * A Drizzle database over `client`. With a schema, pass `mode` as drizzle-orm requires: `'planetscale'` on
 * MariaDB (its relational queries then avoid LATERAL joins, which MariaDB does not have), `'default'` on
 * MySQL 8.
 *
 * Errors: drizzle-orm wraps a failed statement's error in its `DrizzleQueryError`, whose `cause` is what
 * the router threw (a `RwsplitError`, or the server's own mysql2 error); `rwsplitErrorOf(error)` finds the
 * former. `iterator()` is refused with `NotSupportedError` (the router does not stream), as is a
 * transaction `withConsistentSnapshot`.
 */
export function drizzle<
  TSchema extends Record<string, unknown> = Record<string, never>,
  TClient extends DrizzleClient = DrizzleClient,
>(client: TClient, config?: RwsplitDrizzleConfig<TSchema>): RwsplitDrizzleDatabase<TSchema, TClient>;
/** drizzle-orm's object form: `drizzle({ client, schema, mode })`. */
export function drizzle<
  TSchema extends Record<string, unknown> = Record<string, never>,
  TClient extends DrizzleClient = DrizzleClient,
>(
  config: RwsplitDrizzleConfig<TSchema> & { readonly client: TClient },
): RwsplitDrizzleDatabase<TSchema, TClient>;
export function drizzle<TSchema extends Record<string, unknown>, TClient extends DrizzleClient>(
  first: TClient | (RwsplitDrizzleConfig<TSchema> & { readonly client: TClient }),
  second?: RwsplitDrizzleConfig<TSchema>,
): RwsplitDrizzleDatabase<TSchema, TClient> {
  const [client, config] = isClient(first) ? [first, second] : splitConfig<TSchema, TClient>(first);
  if (!isClient(client)) {
    throw new InvalidArgumentError(
      'drizzle() needs a router from createRouter() or a session (db.session(), req.db) as its client',
      'Pass the router or the session itself, not a mysql2 pool or connection.',
    );
  }
  // drizzle-orm types its client as mysql2's Pool or Connection (some 30 members), of which its mysql2
  // session calls query(), execute() and getConnection(). DrizzlePool has exactly those, on the router's
  // rules: this cast is the one place where the two types meet.
  const pool = new DrizzlePool(client) as unknown as Pool;
  const db: MySql2Database<TSchema> & { $client: unknown } =
    config === undefined ? drizzleMysql2<TSchema, Pool>(pool) : drizzleMysql2<TSchema, Pool>(pool, config);
  db.$client = client;
  return db as RwsplitDrizzleDatabase<TSchema, TClient>;
}

function isClient(value: unknown): value is DrizzleClient {
  if (typeof value !== 'object' || value === null) return false;
  const { query, execute, transaction } = value as Partial<Record<string, unknown>>;
  return typeof query === 'function' && typeof execute === 'function' && typeof transaction === 'function';
}

function splitConfig<TSchema extends Record<string, unknown>, TClient extends DrizzleClient>(
  config: RwsplitDrizzleConfig<TSchema> & { readonly client: TClient },
): [unknown, RwsplitDrizzleConfig<TSchema>] {
  const { client, ...rest } = config;
  return [client, rest as RwsplitDrizzleConfig<TSchema>];
}
