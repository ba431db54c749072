import type { ExecuteValues, QueryResult, QueryValues } from 'mysql2/promise';
import type { ReadYourWrites } from './consistency/read-your-writes.js';
import type { Engine, Lease } from './engine.js';
import {
  CallbackApiError,
  ConnectionLostError,
  HintRefusedError,
  InvalidArgumentError,
  SessionReleasedError,
} from './errors.js';
import {
  type ResultTuple,
  type Statement,
  type StatementKind,
  type StatementOptions,
  sqlOf,
} from './statement.js';
import { runTransaction, type TransactionCallback, type TransactionOptions } from './transaction.js';
import { refusedOnReplicaPin, TransactionState } from './transaction-state.js';

const PIN_REASON = 'session pinned';
const READ_ONLY_REASON = 'read-only transaction';

/**
 * A scope for statements that carry connection state.
 *
 * Until it needs one, a session holds no connection and routes exactly like the router (reads to
 * replicas, writes to the primary, retries, fallbacks). The first statement that changes connection
 * state (`SET @x := 1`, `CREATE TEMPORARY TABLE`, `LOCK TABLES`, `BEGIN` ...) pins the session to one
 * primary connection for the rest of its life: from then on every statement runs there (replica hints
 * and `target` options are still checked, then ignored), so that state is never silently lost.
 *
 * `START TRANSACTION READ ONLY` in an unpinned session pins it only for that transaction, to a replica
 * that satisfies the session's consistency (else the primary); statements that must run on the primary
 * are refused inside it, and the session is unpinned again when the transaction ends.
 *
 * What a statement does to the connection's transaction comes from the classifier
 * (`Classification.transaction`), nothing else. `release()` (or `end()`, or `await using`) gives the
 * connection back: one that may hold an open transaction, a lock or any other state is first reset
 * (COM_RESET_CONNECTION), or destroyed if that fails, so nothing leaks to the pool's next user; one that
 * only ran complete transactions goes straight back.
 *
 * `db.getConnection()` returns a session pinned from the start: the mysql2 `PoolConnection` shape that
 * Drizzle and others use (`query`, `execute`, `release`).
 */
export class Session {
  private lease: Lease | undefined;
  private pinning: Promise<Lease> | undefined;
  private released = false;
  private resetting: Promise<void> | undefined;
  /** Pinned for one read-only transaction (to a replica, or the primary it fell back to), not for life. */
  private readOnlyPin = false;
  /** Statements (and session transactions) running on the pinned connection now. */
  private running = 0;
  /** Resolves `end()` once the last of them finished after `release()`. */
  private whenIdle: (() => void) | undefined;
  /** A `session.transaction()` is running on the pinned connection. */
  private inTransaction = false;
  private readonly state = new TransactionState();
  /** @internal Set by the statement pipeline: the node that answered the last statement. */
  served: string | undefined = undefined;

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

  /** True while the session holds a connection. */
  get pinned(): boolean {
    return this.lease !== undefined;
  }

  /** The node the session is pinned to, if it is. */
  get node(): string | undefined {
    return this.lease?.node.name;
  }

  /**
   * The node that answered this session's last successful statement (its configured name), so an app
   * can say where a request's data came from without asking the server (`@@report_host`). Undefined
   * before the first.
   */
  get lastNode(): string | undefined {
    return this.served;
  }

  query<T extends QueryResult = QueryResult>(
    statement: Statement,
    values?: QueryValues,
    options?: StatementOptions,
  ): Promise<ResultTuple<T>> {
    if (typeof values === 'function' || typeof options === 'function') throw new CallbackApiError('query');
    return this.dispatch('query', statement, values, options) as Promise<ResultTuple<T>>;
  }

  execute<T extends QueryResult = QueryResult>(
    statement: Statement,
    values?: ExecuteValues,
    options?: StatementOptions,
  ): Promise<ResultTuple<T>> {
    if (typeof values === 'function' || typeof options === 'function') throw new CallbackApiError('execute');
    return this.dispatch('execute', statement, values, options) as Promise<ResultTuple<T>>;
  }

  /**
   * A transaction inside the session: on the pinned connection if the session is pinned (it stays
   * pinned afterwards), otherwise exactly like `db.transaction()`, with this session's consistency (a
   * read-only one runs on a replica that has the session's writes).
   */
  async transaction<T>(fn: TransactionCallback<T>, options?: TransactionOptions): Promise<T> {
    if (this.released) throw new SessionReleasedError();
    const lease = this.lease;
    if (lease === undefined) return runTransaction(this.engine, fn, options, { scope: this.scope });
    if (this.inTransaction || this.state.open) {
      throw new InvalidArgumentError(
        'A transaction is already open on this session; nest it with tx.transaction() instead',
      );
    }
    if (lease.connection.broken) throw new ConnectionLostError(lease.node.name);
    this.inTransaction = true;
    this.running++;
    try {
      return await runTransaction(this.engine, fn, options, {
        scope: this.scope,
        held: lease,
        state: this.state,
      });
    } finally {
      this.inTransaction = false;
      this.finished();
    }
  }

  /** Pins the session to a primary connection now (`getConnection()` does this). */
  async pin(): Promise<void> {
    await this.pinnedLease(false);
  }

  /**
   * Gives the pinned connection back (reset first if it may hold state). The session cannot be used
   * afterwards. Synchronous like mysql2's `PoolConnection.release()`; `end()` also waits for the reset.
   * Call it after your statements have finished.
   */
  release(): void {
    if (this.released) return;
    this.released = true;
    // A statement still running keeps the connection until it finishes (Express releases on 'close',
    // which also fires when a client goes away mid-request): never two users on one connection.
    if (this.running === 0) this.unpin();
  }

  /** `release()`, then waits until running statements finished and the connection is back in its pool. */
  async end(): Promise<void> {
    this.release();
    if (this.running > 0) {
      await new Promise<void>((resolve) => {
        this.whenIdle = resolve;
      });
    }
    await this.resetting;
  }

  /** A statement on the pinned connection finished; the last one after `release()` gives it back. */
  private finished(): void {
    this.running--;
    if (this.running > 0 || !this.released) return;
    this.unpin();
    const idle = this.whenIdle;
    this.whenIdle = undefined;
    idle?.();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.end();
  }

  /** The one path every statement of the session takes (see the class comment). */
  protected dispatch(
    kind: StatementKind,
    statement: Statement,
    values: unknown,
    options: StatementOptions | undefined,
  ): Promise<ResultTuple> {
    if (this.released) return Promise.reject(new SessionReleasedError());
    if (this.lease === undefined && this.pinning === undefined) {
      let sql: string;
      try {
        sql = sqlOf(statement);
      } catch (error) {
        return Promise.reject(error);
      }
      const classification = this.engine.classify(sql);
      if (!classification.sessionState)
        return this.engine.run(kind, statement, values, options, true, this.scope, this);
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
    this.engine.route(statement, options, classification);
    const startsReadOnly = classification.transaction === 'begin-read-only';
    const lease = await this.pinnedLease(startsReadOnly && this.lease === undefined);
    // A dead connection stays dead: running on without what it held would be a different session.
    if (lease.connection.broken) throw new ConnectionLostError(lease.node.name);
    if (this.readOnlyPin && lease.route.target === 'replica' && refusedOnReplicaPin(classification)) {
      throw new HintRefusedError(classification.operation, classification.reason, 'readOnly transaction');
    }
    this.running++;
    try {
      const result = await this.engine.runPinned(
        lease,
        kind,
        statement,
        values,
        sql,
        classification,
        undefined,
        options,
        this.scope,
        this,
      );
      this.state.apply(classification);
      if (classification.transaction === 'end-and-disconnect') lease.connection.broken = true;
      return result;
    } catch (error) {
      // What the statement left behind is unknown: the connection is reset before anyone reuses it.
      if (classification.sessionState) this.state.dirty = true;
      throw error;
    } finally {
      if (this.lease === lease && !this.released) this.afterPinned(lease);
      this.finished();
    }
  }

  /**
   * After a pinned statement: a read-only transaction's pin ends with the transaction (or when its
   * connection broke), and a broken connection that held nothing (the server closed it on COMMIT RELEASE,
   * or it failed between complete transactions) is let go so the next statement pins afresh. One that
   * held state stays, and refuses statements with `ConnectionLostError`.
   */
  private afterPinned(lease: Lease): void {
    const broken = lease.connection.broken;
    if (this.readOnlyPin && (!this.state.open || broken)) this.unpin();
    // Nothing was lost with it (COMMIT RELEASE, or a failure between complete transactions): pin afresh.
    else if (broken && this.state.clean) this.unpin();
  }

  /** The session's connection: taken now if it holds none (a replica for a read-only transaction). */
  private pinnedLease(readOnly: boolean): Promise<Lease> {
    if (this.released) return Promise.reject(new SessionReleasedError());
    if (this.lease !== undefined) return Promise.resolve(this.lease);
    this.pinning ??= this.engine
      .lease(readOnly, readOnly ? READ_ONLY_REASON : PIN_REASON, this.scope)
      .then((lease) => {
        if (this.released) {
          lease.node.release(lease.connection);
          throw new SessionReleasedError();
        }
        this.lease = lease;
        this.readOnlyPin = readOnly;
        return lease;
      })
      .finally(() => {
        this.pinning = undefined;
      });
    return this.pinning;
  }

  /** Gives the connection back, reset first if it may hold state (see `TransactionState.clean`). */
  private unpin(): void {
    const lease = this.lease;
    this.lease = undefined;
    this.readOnlyPin = false;
    if (lease === undefined) return;
    const clean = this.state.clean;
    this.state.forget();
    this.resetting = this.engine.giveBack(lease, !clean);
  }
}
