import type { Context } from '@opentelemetry/api';
import type { ExecuteValues, QueryResult, QueryValues } from 'mysql2/promise';
import { isConnectionFailure } from './connection-failure.js';
import type { ReadYourWrites } from './consistency/read-your-writes.js';
import type { Engine, Lease } from './engine.js';
import {
  CallbackApiError,
  ConnectionLostError,
  HintRefusedError,
  InvalidArgumentError,
  QueryFailedError,
  TransactionEndedError,
  TransactionResolutionUnknownError,
  WriteOutcomeUnknownError,
} from './errors.js';
import { unavailableAs } from './node-failure.js';
import {
  type ResultTuple,
  type Statement,
  type StatementKind,
  type StatementOptions,
  sqlOf,
} from './statement.js';
import { primaryOnly, TransactionState } from './transaction-state.js';
import { TIMED_OUT, within } from './within.js';

export type IsolationLevel = 'READ UNCOMMITTED' | 'READ COMMITTED' | 'REPEATABLE READ' | 'SERIALIZABLE';

const ISOLATION_LEVELS: ReadonlySet<string> = new Set([
  'READ UNCOMMITTED',
  'READ COMMITTED',
  'REPEATABLE READ',
  'SERIALIZABLE',
]);

export interface TransactionOptions {
  /**
   * Run on a replica with `START TRANSACTION READ ONLY` (on the primary if no replica is healthy and
   * `whenNoReplica` is `'primary'`). Statements the classifier says must run on the primary are refused
   * with `HintRefusedError`. Default: `false` (the primary, read-write).
   */
  readonly readOnly?: boolean;
  /** Sent as `SET TRANSACTION ISOLATION LEVEL ...` right before the transaction starts. Default: the server's. */
  readonly isolationLevel?: IsolationLevel;
}

/** What a transaction callback gets. */
export type TransactionCallback<T> = (tx: Transaction) => Promise<T>;

/**
 * A transaction's handle: every statement runs on its one connection, whatever its classification,
 * hint or `target` option says (a read sees the transaction's own uncommitted writes). Statements that
 * change connection state are fine here (the connection is reset before it is reused). Do not send
 * COMMIT/ROLLBACK yourself: return or throw instead.
 *
 * Nesting is explicit: `tx.transaction(fn)` runs `fn` inside a SAVEPOINT on the same connection
 * (RELEASE on success, ROLLBACK TO on throw, rethrown to the outer callback). Calling
 * `db.transaction()` inside a callback starts an unrelated transaction on another connection.
 * Run a transaction's statements one after another; it is one connection.
 */
export class Transaction {
  private ended = false;
  private savepoints = 0;

  /** @internal */
  constructor(
    private readonly engine: Engine,
    private readonly lease: Lease,
    private readonly context: Context,
    /** True for `readOnly` transactions. */
    readonly readOnly: boolean,
    private readonly depth: number,
    private readonly state: TransactionState,
  ) {}

  /** The node this transaction runs on. */
  get node(): string {
    return this.lease.node.name;
  }

  query<T extends QueryResult = QueryResult>(
    statement: Statement,
    values?: QueryValues,
    options?: StatementOptions,
  ): Promise<ResultTuple<T>> {
    if (typeof values === 'function' || typeof options === 'function') throw new CallbackApiError('query');
    return this.run('query', statement, values, options) as Promise<ResultTuple<T>>;
  }

  execute<T extends QueryResult = QueryResult>(
    statement: Statement,
    values?: ExecuteValues,
    options?: StatementOptions,
  ): Promise<ResultTuple<T>> {
    if (typeof values === 'function' || typeof options === 'function') throw new CallbackApiError('execute');
    return this.run('execute', statement, values, options) as Promise<ResultTuple<T>>;
  }

  /** Runs `fn` inside a SAVEPOINT of this transaction (see the class comment). */
  async transaction<T>(fn: TransactionCallback<T>): Promise<T> {
    if (this.ended) throw new TransactionEndedError();
    this.savepoints += 1;
    const name = `rwsplit_sp_${this.depth + 1}_${this.savepoints}`;
    await this.control(`SAVEPOINT ${name}`);
    const nested = new Transaction(
      this.engine,
      this.lease,
      this.context,
      this.readOnly,
      this.depth + 1,
      this.state,
    );
    try {
      const result = await fn(nested);
      nested.end();
      await this.control(`RELEASE SAVEPOINT ${name}`);
      return result;
    } catch (error) {
      nested.end();
      if (!this.lease.connection.broken) {
        await this.control(`ROLLBACK TO SAVEPOINT ${name}`).catch(() => {
          // The outer transaction is unusable now; its own rollback will fail and discard the connection.
          this.lease.connection.broken = true;
        });
      }
      throw error;
    }
  }

  /** @internal Runs a statement the router itself issues (START TRANSACTION, COMMIT, SAVEPOINT ...). */
  control(sql: string): Promise<ResultTuple> {
    const classification = this.engine.classify(sql);
    return this.engine.runPinned(
      this.lease,
      'query',
      sql,
      undefined,
      sql,
      classification,
      this.context,
      undefined,
      undefined,
    );
  }

  /** @internal */
  end(): void {
    this.ended = true;
  }

  private run(
    kind: StatementKind,
    statement: Statement,
    values: unknown,
    options: StatementOptions | undefined,
  ): Promise<ResultTuple> {
    if (this.ended) return Promise.reject(new TransactionEndedError());
    let sql: string;
    try {
      sql = sqlOf(statement);
    } catch (error) {
      return Promise.reject(error);
    }
    const classification = this.engine.classify(sql);
    if (this.readOnly && primaryOnly(classification)) {
      return Promise.reject(
        new HintRefusedError(classification.operation, classification.reason, 'readOnly transaction'),
      );
    }
    // The connection died under an earlier statement: the transaction is gone with it.
    if (this.lease.connection.broken) return Promise.reject(new ConnectionLostError(this.lease.node.name));
    this.state.applyInside(classification);
    return this.engine.runPinned(
      this.lease,
      kind,
      statement,
      values,
      sql,
      classification,
      this.context,
      options,
      undefined,
    );
  }
}

function checkOptions(options: TransactionOptions | undefined): {
  readOnly: boolean;
  isolationLevel?: string;
} {
  if (options === undefined) return { readOnly: false };
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('transaction options must be an object like { readOnly, isolationLevel }');
  }
  const { readOnly = false, isolationLevel } = options;
  if (typeof readOnly !== 'boolean')
    throw new InvalidArgumentError('transaction option readOnly must be a boolean');
  if (isolationLevel !== undefined && !ISOLATION_LEVELS.has(isolationLevel)) {
    throw new InvalidArgumentError(
      `transaction option isolationLevel must be one of ${[...ISOLATION_LEVELS].join(', ')}, got ${String(isolationLevel)}`,
    );
  }
  return isolationLevel === undefined ? { readOnly } : { readOnly, isolationLevel };
}

/** Where a transaction runs and what it reports to. */
export interface TransactionPlacement {
  /** The session's consistency: a read-only transaction goes to a replica that satisfies it; a COMMIT's position is recorded in it. */
  readonly scope?: ReadYourWrites | undefined;
  /** A connection a pinned session already holds: the transaction runs there and leaves it held. */
  readonly held?: Lease;
  /** The holder's connection state, which the transaction's statements add to. */
  readonly state?: TransactionState;
}

/**
 * Runs `fn` as one transaction on one connection: SET TRANSACTION ISOLATION LEVEL (if asked),
 * START TRANSACTION [READ ONLY], then COMMIT when `fn` resolves or ROLLBACK when it throws. The
 * connection goes back to its pool in every path (reset first if `fn` left state behind, destroyed if
 * it broke). With `held`, the transaction runs on a connection a pinned session already holds, and
 * leaves it held.
 */
export async function runTransaction<T>(
  engine: Engine,
  fn: TransactionCallback<T>,
  options: TransactionOptions | undefined,
  placement: TransactionPlacement = {},
): Promise<T> {
  const { readOnly, isolationLevel } = checkOptions(options);
  if (typeof fn !== 'function')
    throw new InvalidArgumentError('transaction() needs a callback: (tx) => Promise');
  const { held, scope } = placement;
  const state = placement.state ?? new TransactionState();
  const { span, context } = engine.telemetry.startTransaction(readOnly);
  let lease: Lease | undefined = held;
  let failure: unknown;
  try {
    lease ??= await engine.lease(readOnly, 'transaction', scope);
    engine.telemetry.placeTransaction(span, lease.node, lease.route);
    const tx = new Transaction(engine, lease, context, readOnly, 0, state);
    await begin(tx, lease, readOnly, isolationLevel, state);
    let result: T;
    try {
      result = await fn(tx);
    } catch (error) {
      tx.end();
      await rollbackQuietly(tx, lease);
      throw error;
    }
    tx.end();
    const committed = await commit(tx, lease);
    if (scope !== undefined && !readOnly) await recordCommit(engine, lease, committed, scope);
    return result;
  } catch (error) {
    failure = error;
    // The COMMIT may have been applied: only the primary is sure to show the session what it holds.
    if (error instanceof TransactionResolutionUnknownError) scope?.lostTrack();
    throw error;
  } finally {
    if (lease !== undefined && held === undefined) await engine.giveBack(lease, state.dirty);
    engine.telemetry.endTransaction(span, failure);
  }
}

/** A connection failure before anything of the transaction ran: the node's problem, which the caller may retry. */
function failedToStart(lease: Lease, error: unknown): unknown {
  if (error instanceof WriteOutcomeUnknownError || error instanceof QueryFailedError) {
    return unavailableAs(
      lease.route.target,
      lease.node.unavailable('the connection failed while starting a transaction', error.cause),
    );
  }
  return error;
}

async function begin(
  tx: Transaction,
  lease: Lease,
  readOnly: boolean,
  isolationLevel: string | undefined,
  state: TransactionState,
) {
  try {
    if (isolationLevel !== undefined) await tx.control(`SET TRANSACTION ISOLATION LEVEL ${isolationLevel}`);
    await tx.control(readOnly ? 'START TRANSACTION READ ONLY' : 'START TRANSACTION');
  } catch (error) {
    tx.end();
    // Until a START TRANSACTION consumes it, the level would wait on the connection for its next user.
    if (isolationLevel !== undefined) state.dirty = true;
    throw failedToStart(lease, error);
  }
}

async function commit(tx: Transaction, lease: Lease): Promise<ResultTuple> {
  // Its connection closed before the callback returned (a statement abandoned at its deadline whose error
  // the callback caught): the server rolled the transaction back, certainly.
  if (lease.connection.broken) throw new ConnectionLostError(lease.node.name);
  try {
    return await tx.control('COMMIT');
  } catch (error) {
    if (
      error instanceof WriteOutcomeUnknownError ||
      error instanceof QueryFailedError ||
      isConnectionFailure(error)
    ) {
      lease.connection.broken = true;
      throw new TransactionResolutionUnknownError(
        lease.node.name,
        error instanceof Error && error.cause !== undefined ? error.cause : error,
      );
    }
    // The server refused the COMMIT (e.g. a deadlock): the transaction did not commit.
    await rollbackQuietly(tx, lease);
    throw error;
  }
}

async function rollbackQuietly(tx: Transaction, lease: Lease): Promise<void> {
  if (lease.connection.broken) return;
  try {
    await tx.control('ROLLBACK');
  } catch {
    // A connection that cannot roll back must not go back to the pool with a transaction open.
    lease.connection.broken = true;
  }
}

/**
 * Records the position the COMMIT produced, bounded by `timeouts.writeMs`: the transaction is committed
 * either way, so a server that stalls here costs the session its token (its reads go to the primary),
 * never the caller's result.
 */
async function recordCommit(engine: Engine, lease: Lease, committed: ResultTuple, scope: ReadYourWrites) {
  const { connection } = lease;
  const recording = engine.commits.record(connection.connection, committed, engine.classify('COMMIT'), scope);
  const outcome = await within(recording, performance.now() + engine.config.timeouts.writeMs);
  if (outcome === TIMED_OUT) {
    scope.lostTrack();
    engine.abandon(lease.node, connection, true);
  } else if (outcome) {
    connection.broken = true;
  }
}
