import type { ExecuteValues, QueryResult, QueryValues } from 'mysql2/promise';
import type { Classification } from './classify/classification.js';
import type { ReadYourWrites } from './consistency/read-your-writes.js';
import type { Engine, Lease } from './engine.js';
import { InvalidArgumentError, SessionReleasedError } from './errors.js';
import {
  type ResultTuple,
  type Statement,
  type StatementKind,
  type StatementOptions,
  sqlOf,
} from './statement.js';
import {
  type AfterCommit,
  runTransaction,
  type TransactionCallback,
  type TransactionOptions,
} from './transaction.js';

const PIN_REASON = 'session pinned';
// What recordCommit needs to know about a COMMIT: it may have committed (no session state left behind).
const COMMIT: Classification = {
  target: 'primary',
  reason: 'transaction control',
  sessionState: false,
  operation: 'COMMIT',
};
// Transaction control leaves no state behind once the transaction is over.
const TRANSACTION_CONTROL: ReadonlySet<string> = new Set([
  'BEGIN',
  'START',
  'COMMIT',
  'ROLLBACK',
  'SAVEPOINT',
  'RELEASE',
]);
const ROLLBACK_TO = /^\s*ROLLBACK\s+(?:WORK\s+)?TO\b/i;

/**
 * A scope for statements that carry connection state.
 *
 * Until it needs one, a session holds no connection and routes exactly like the router (reads to
 * replicas, writes to the primary, retries, fallbacks). The first statement that changes connection
 * state (`SET @x := 1`, `CREATE TEMPORARY TABLE`, `LOCK TABLES`, `BEGIN` ...) pins the session to one
 * primary connection for the rest of its life: from then on every statement runs there (replica hints
 * and `target` options are still checked, then ignored), so that state is never silently lost.
 *
 * `release()` (or `end()`, or `await using`) gives the connection back. A connection whose state was
 * changed is first reset (COM_RESET_CONNECTION), or destroyed if that fails, so no state leaks to the
 * pool's next user; one that only ran complete transactions goes straight back.
 *
 * `db.getConnection()` returns a session pinned from the start: the mysql2 `PoolConnection` shape that
 * Drizzle and others use (`query`, `execute`, `release`).
 *
 * Extension seam: every statement goes through `dispatch`; a consistency layer (read-your-writes
 * tokens) subclasses `Session` and overrides it to wait before replica reads and to record the position
 * after primary writes.
 */
export class Session {
  private lease: Lease | undefined;
  private pinning: Promise<Lease> | undefined;
  private released = false;
  private resetting: Promise<void> | undefined;
  /** State beyond complete transactions: user variables, temporary tables, locks, session settings. */
  private dirty = false;
  /** A BEGIN/START TRANSACTION the session sent itself, not yet committed or rolled back. */
  private openTransaction = false;
  /** A `session.transaction()` is running on the pinned connection. */
  private inTransaction = false;

  /**
   * @internal Sessions come from `db.session()` and `db.getConnection()`. `scope` carries the session's
   * consistency: what its reads must see, and the positions its writes produce.
   */
  constructor(
    protected readonly engine: Engine,
    protected readonly scope?: ReadYourWrites,
  ) {}

  /**
   * The consistency token: an opaque string holding the position of everything this session (and the
   * token it was resumed from) wrote. Hand it to the next request, on this app server or another, as
   * `db.session({ token })`, and its reads will see those writes. Undefined while there is nothing to
   * require.
   */
  token(): string | undefined {
    return this.scope?.token();
  }

  /** True once the session holds a primary connection. */
  get pinned(): boolean {
    return this.lease !== undefined;
  }

  /** The node the session is pinned to, if it is. */
  get node(): string | undefined {
    return this.lease?.node.name;
  }

  query<T extends QueryResult = QueryResult>(
    statement: Statement,
    values?: QueryValues,
    options?: StatementOptions,
  ): Promise<ResultTuple<T>> {
    return this.dispatch('query', statement, values, options) as Promise<ResultTuple<T>>;
  }

  execute<T extends QueryResult = QueryResult>(
    statement: Statement,
    values?: ExecuteValues,
    options?: StatementOptions,
  ): Promise<ResultTuple<T>> {
    return this.dispatch('execute', statement, values, options) as Promise<ResultTuple<T>>;
  }

  /**
   * A transaction inside the session: on the pinned connection if the session is pinned (it stays
   * pinned afterwards), otherwise exactly like `db.transaction()`.
   */
  async transaction<T>(fn: TransactionCallback<T>, options?: TransactionOptions): Promise<T> {
    if (this.released) throw new SessionReleasedError();
    const lease = this.lease;
    const afterCommit = this.afterCommit;
    if (lease === undefined) return runTransaction(this.engine, fn, options, undefined, afterCommit);
    if (this.inTransaction) {
      throw new InvalidArgumentError(
        'A transaction is already running on this session; nest it with tx.transaction() instead',
      );
    }
    this.inTransaction = true;
    try {
      return await runTransaction(this.engine, fn, options, lease, afterCommit);
    } finally {
      this.inTransaction = false;
    }
  }

  /** Pins the session to a primary connection now (`getConnection()` does this). */
  async pin(): Promise<void> {
    await this.pinnedLease();
  }

  /**
   * Gives the pinned connection back (reset first if its state changed). The session cannot be used
   * afterwards. Synchronous like mysql2's `PoolConnection.release()`; `end()` also waits for the reset.
   * Call it after your statements have finished.
   */
  release(): void {
    if (this.released) return;
    this.released = true;
    const lease = this.lease;
    this.lease = undefined;
    if (lease === undefined) return;
    const { node, connection } = lease;
    if (connection.broken || (!this.dirty && !this.openTransaction)) {
      node.release(connection);
      return;
    }
    const reset = connection.connection.reset;
    if (reset === undefined) {
      node.discard(connection);
      return;
    }
    // A reset also drops the connection's GTID tracking.
    this.engine.consistency.forgetTracking(connection.connection);
    this.resetting = reset.call(connection.connection).then(
      () => node.release(connection),
      () => node.discard(connection),
    );
  }

  /** `release()`, then waits until the connection is back in its pool. */
  async end(): Promise<void> {
    this.release();
    await this.resetting;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.end();
  }

  /** Records the position a COMMIT of this session's transaction produced. */
  private get afterCommit(): AfterCommit | undefined {
    const scope = this.scope;
    if (scope === undefined) return undefined;
    return async (result, lease) => {
      if (await this.engine.consistency.recordCommit(lease.connection.connection, result, COMMIT, scope)) {
        lease.connection.broken = true;
      }
    };
  }

  /** The one path every statement of the session takes (see the class comment). */
  protected dispatch(
    kind: StatementKind,
    statement: Statement,
    values: unknown,
    options: StatementOptions | undefined,
  ): Promise<ResultTuple> {
    if (this.released) return Promise.reject(new SessionReleasedError());
    const lease = this.lease;
    if (lease === undefined && this.pinning === undefined) {
      let sql: string;
      try {
        sql = sqlOf(statement);
      } catch (error) {
        return Promise.reject(error);
      }
      if (!this.engine.classify(sql).sessionState)
        return this.engine.run(kind, statement, values, options, true, this.scope);
    }
    return this.runPinned(kind, statement, values, options);
  }

  private async runPinned(
    kind: StatementKind,
    statement: Statement,
    values: unknown,
    options: StatementOptions | undefined,
  ): Promise<ResultTuple> {
    const sql = sqlOf(statement);
    const classification = this.engine.classify(sql);
    // A replica hint on a statement that must run on the primary is refused here as everywhere.
    this.engine.routeUnpinned(statement, options, classification);
    const lease = await this.pinnedLease();
    this.track(classification, sql);
    const result = await this.engine.runOn(lease, kind, statement, values, sql, classification, undefined);
    if (
      this.scope !== undefined &&
      (await this.engine.consistency.recordCommit(
        lease.connection.connection,
        result,
        classification,
        this.scope,
      ))
    ) {
      lease.connection.broken = true;
    }
    return result;
  }

  private pinnedLease(): Promise<Lease> {
    if (this.released) return Promise.reject(new SessionReleasedError());
    if (this.lease !== undefined) return Promise.resolve(this.lease);
    this.pinning ??= this.engine
      .lease(false, PIN_REASON)
      .then((lease) => {
        if (this.released) {
          lease.node.release(lease.connection);
          throw new SessionReleasedError();
        }
        this.lease = lease;
        return lease;
      })
      .finally(() => {
        this.pinning = undefined;
      });
    return this.pinning;
  }

  private track(classification: Classification, sql: string): void {
    if (!classification.sessionState) return;
    const { operation } = classification;
    if (!TRANSACTION_CONTROL.has(operation)) {
      this.dirty = true;
    } else if (operation === 'BEGIN' || operation === 'START') {
      this.openTransaction = true;
    } else if (operation === 'COMMIT' || (operation === 'ROLLBACK' && !ROLLBACK_TO.test(sql))) {
      this.openTransaction = false;
    }
  }
}
