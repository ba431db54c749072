/**
 * Kysely on the router: `new Kysely<DB>({ dialect: new RwsplitKyselyDialect({ db }) })`, where `db` is the
 * router or a session (`req.db`). Kysely's own MySQL adapter, query compiler and introspector; a driver of
 * ours, so that every statement is routed by the router: reads to replicas in rotation, writes to the
 * primary, transactions on one primary connection (read-only ones, `setAccessMode('read only')`, on a
 * replica that has the session's writes), and read-your-writes through a session's token.
 *
 * Kysely's `MysqlDialect({ pool: router })` cannot do this: it takes a connection per query and runs
 * everything on it, so even a working callback pool would pin every query to the primary.
 *
 * kysely is an optional peer: only the `@rwsplit/router/kysely` modules import it.
 */
import {
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  MysqlAdapter,
  MysqlIntrospector,
  MysqlQueryCompiler,
  type QueryCompiler,
} from 'kysely';
import { RwsplitKyselyDriver } from './kysely-driver.js';
import { type RoutedClient, routedClient } from './routed-client.js';

export { RwsplitKyselyDriver } from './kysely-driver.js';
export type { RoutedClient } from './routed-client.js';

export interface RwsplitKyselyDialectConfig {
  /**
   * What Kysely runs on: the router (`createRouter()`), or a session (`db.session()`, the Express
   * middleware's `req.db`: a Kysely per request, which costs a few µs, gives the request's reads its
   * token). Required. The dialect never closes it: `kysely.destroy()` leaves the router open.
   */
  readonly db: RoutedClient;
}

/**
 * Kysely's `Dialect` for `@rwsplit/router`. What is supported and what is refused is in
 * `packages/router/docs/kysely.md`; in short: everything Kysely does on MySQL, except `stream()`
 * (`NotSupportedError`: the router returns whole results).
 */
export class RwsplitKyselyDialect implements Dialect {
  private readonly config: Readonly<RwsplitKyselyDialectConfig>;

  constructor(config: RwsplitKyselyDialectConfig) {
    const db = routedClient(
      (config as Partial<RwsplitKyselyDialectConfig> | undefined)?.db,
      'RwsplitKyselyDialect({ db })',
    );
    this.config = Object.freeze({ db });
  }

  createDriver(): Driver {
    return new RwsplitKyselyDriver(this.config.db);
  }

  createQueryCompiler(): QueryCompiler {
    return new MysqlQueryCompiler();
  }

  createAdapter(): DialectAdapter {
    return new MysqlAdapter();
  }

  createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new MysqlIntrospector(db);
  }
}
