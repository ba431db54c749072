import type { ExecuteValues, QueryResult, QueryValues } from 'mysql2/promise';
import type { ConsistencyMode } from './consistency/consistency-config.js';
import { ReadYourWrites } from './consistency/read-your-writes.js';
import { type CloseReport, Engine } from './engine.js';
import { CallbackApiError } from './errors.js';
import type { NodeRole } from './pool.js';
import { type ResolvedConfig, resolveConfig } from './resolve-config.js';
import type { RouterConfig } from './router-config.js';
import { Session } from './session.js';
import type { Queryable, ResultTuple, Statement, StatementOptions } from './statement.js';
import type { NodeStatus } from './topology/monitor.js';
import { runTransaction, type TransactionCallback, type TransactionOptions } from './transaction.js';

/** How a session starts. */
export interface SessionOptions {
  /**
   * A consistency token from an earlier request (`session.token()`, carried in a cookie or header): the
   * session's reads see everything written before it was issued. A corrupt or forged token is never an
   * error: the session then reads from the primary.
   */
  readonly token?: string | undefined;
  /** Overrides the router's consistency for this session. */
  readonly consistency?: ConsistencyMode | undefined;
  /**
   * Called each time a write of the session changed its token (read it with `session.token()`), right
   * after the write: where the token must go out in a response header, it can be set then, before the
   * response starts, with no hook on the response itself.
   */
  readonly onTokenChange?: (() => void) | undefined;
}

/** A node's pool, as `router.pools()` reports it. */
export interface PoolStatus {
  readonly name: string;
  readonly role: NodeRole;
  readonly host: string;
  readonly port: number;
  /** False while its circuit breaker is open. */
  readonly healthy: boolean;
  readonly idle: number;
  readonly used: number;
  /** Callers waiting for a connection. */
  readonly pending: number;
}

/**
 * Read/write splitting over mysql2 with mysql2/promise's statement surface.
 *
 * - `query`/`execute`: each statement is classified (`classify`), then runs on a pooled connection of
 *   the primary or a replica. A `/* rwsplit:primary *\/` or `/* rwsplit:replica *\/` comment or the
 *   `target` option overrides the classifier, except that a replica is refused for statements that
 *   must run on the primary (`HintRefusedError`). Statements that change connection state are refused
 *   (`SessionStateError`): use `session()` or `transaction()`.
 * - A read that fails on a replica because the connection failed is retried once on another replica
 *   (or the primary); writes are never retried.
 */
export class Router implements Queryable {
  /** The validated options with defaults filled in, frozen. */
  readonly config: ResolvedConfig;
  private readonly engine: Engine;

  /** Router-level statements under `consistency: 'strong'` read from the primary; otherwise unset. */
  private readonly strongScope: ReadYourWrites | undefined;

  /** @internal Use `createRouter`. */
  constructor(options: RouterConfig) {
    this.config = resolveConfig(options);
    this.engine = new Engine(this.config);
    const { mode, codec } = this.config.consistency;
    this.strongScope = mode === 'strong' ? new ReadYourWrites('strong', codec, undefined) : undefined;
  }

  /**
   * Resolves once the topology monitor has probed every node (roles, lag, positions known). Statements
   * work before that, on the configured roles; await this where the first reads must already be lag-aware.
   */
  ready(): Promise<void> {
    return this.engine.startMonitor();
  }

  /** Each node as the monitor last saw it: role, reachable, lag, in rotation and why not. */
  topology(): NodeStatus[] {
    return this.engine.topology();
  }

  get closed(): boolean {
    return this.engine.closed;
  }

  query<T extends QueryResult = QueryResult>(
    statement: Statement,
    values?: QueryValues,
    options?: StatementOptions,
  ): Promise<ResultTuple<T>> {
    if (typeof values === 'function' || typeof options === 'function') throw new CallbackApiError('query');
    return this.engine.run('query', statement, values, options, false, this.strongScope) as Promise<
      ResultTuple<T>
    >;
  }

  execute<T extends QueryResult = QueryResult>(
    statement: Statement,
    values?: ExecuteValues,
    options?: StatementOptions,
  ): Promise<ResultTuple<T>> {
    if (typeof values === 'function' || typeof options === 'function') throw new CallbackApiError('execute');
    return this.engine.run('execute', statement, values, options, false, this.strongScope) as Promise<
      ResultTuple<T>
    >;
  }

  /** A new session (see `Session`): routes like the router until a statement with session state pins it. */
  session(options: SessionOptions = {}): Session {
    const { mode, codec } = this.config.consistency;
    return new Session(
      this.engine,
      new ReadYourWrites(options.consistency ?? mode, codec, options.token, options.onTokenChange),
    );
  }

  /**
   * A session pinned to a primary connection from the start, mysql2 `PoolConnection`-style: every
   * statement runs on that one connection until `release()`. For ORMs (Drizzle) that run their
   * transactions as `getConnection()`, `begin`, ..., `commit`, `release()`.
   *
   * mysql2's callback form (`getConnection(cb)`, as Kysely's MysqlDialect calls it) throws
   * `CallbackApiError` at once: it would otherwise never call back and hold a connection for ever.
   */
  getConnection(...args: readonly unknown[]): Promise<Session> {
    if (typeof args[0] === 'function') throw new CallbackApiError('getConnection');
    const session = new Session(this.engine);
    return session.pin().then(() => session);
  }

  /**
   * Runs `fn` in a transaction on one connection: the primary, or a replica for `readOnly: true`.
   * COMMIT when `fn` resolves, ROLLBACK when it throws (then rethrows), connection released in every
   * path; `TransactionResolutionUnknownError` if the connection dies during COMMIT. Nest with
   * `tx.transaction()` (SAVEPOINTs).
   */
  transaction<T>(fn: TransactionCallback<T>, options?: TransactionOptions): Promise<T> {
    return runTransaction(this.engine, fn, options, { scope: this.strongScope });
  }

  /** Each node's pool: connections idle, in use, callers waiting, health. */
  pools(): PoolStatus[] {
    const now = Date.now();
    return this.engine.nodes.map((node) => ({
      name: node.name,
      role: node.role,
      host: node.host,
      port: node.port,
      healthy: node.isAvailable(now),
      ...node.stats(),
    }));
  }

  /**
   * Stops taking statements (they fail with `RouterClosedError`), waits up to `timeouts.closeMs` for
   * running statements, open transactions and held sessions to finish, then fails and destroys what is
   * still out (reported to the logger and in the result), and closes every connection. Idempotent.
   */
  close(): Promise<CloseReport> {
    return this.engine.close();
  }

  /** Same as `close()`, by mysql2's name. */
  end(): Promise<CloseReport> {
    return this.engine.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.engine.close();
  }
}

/** Validates `options` (throwing `InvalidOptionError` naming the bad option) and creates a router. No connection is opened yet. */
export function createRouter(options: RouterConfig): Router {
  return new Router(options);
}
