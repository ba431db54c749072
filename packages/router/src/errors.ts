/**
 * The router's error taxonomy: one base class, one subclass per failure, a stable `code` to match on.
 *
 * Error policy: SQL errors reported by the server (duplicate key, syntax, deadlock ...) reach the
 * caller unchanged, as mysql2's own error object with `code`, `errno`, `sqlState` and `sqlMessage`,
 * exactly as a plain mysql2 pool would throw them. Only failures of the connection itself (cannot
 * connect, connection lost mid-statement, pool exhausted) and the router's own refusals are
 * `RwsplitError`s; the driver error, when there is one, is the `cause`.
 */

/** Stable codes that programs match on; new codes may be added, existing ones never change meaning. */
export type RwsplitErrorCode =
  | 'RWSPLIT_INVALID_OPTION'
  | 'RWSPLIT_INVALID_ARGUMENT'
  | 'RWSPLIT_PRIMARY_UNAVAILABLE'
  | 'RWSPLIT_REPLICA_UNAVAILABLE'
  | 'RWSPLIT_NO_REPLICA'
  | 'RWSPLIT_ACQUIRE_TIMEOUT'
  | 'RWSPLIT_QUERY_FAILED'
  | 'RWSPLIT_HINT_REFUSED'
  | 'RWSPLIT_SESSION_STATE'
  | 'RWSPLIT_SESSION_RELEASED'
  | 'RWSPLIT_TRANSACTION_ENDED'
  | 'RWSPLIT_TRANSACTION_UNKNOWN'
  | 'RWSPLIT_CLOSED';

interface NodeErrorOptions extends ErrorOptions {
  /** Name of the database node involved, as configured (or `host:port`). */
  readonly node?: string | undefined;
}

export class RwsplitError extends Error {
  override name = 'RwsplitError';
  /** The node the failure happened on, when one was involved. */
  readonly node?: string;

  constructor(
    message: string,
    /** Stable machine-readable code. */
    readonly code: RwsplitErrorCode,
    /** True when running the same operation again may succeed (nothing was applied, or it was a read). */
    readonly retryable = false,
    options?: NodeErrorOptions,
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    if (options?.node !== undefined) this.node = options.node;
  }
}

/** A `createRouter` option is missing or has the wrong type or range; `option` is its path. */
export class InvalidOptionError extends RwsplitError {
  override name = 'InvalidOptionError';
  constructor(
    readonly option: string,
    problem: string,
  ) {
    super(
      `Invalid option \`${option}\`: ${problem}. Fix the value passed to createRouter().`,
      'RWSPLIT_INVALID_OPTION',
    );
  }
}

/** A call got arguments it cannot use (e.g. `query()` without SQL text). */
export class InvalidArgumentError extends RwsplitError {
  override name = 'InvalidArgumentError';
  constructor(problem: string, advice = 'Fix the call; nothing was executed.') {
    super(`${problem}. ${advice}`, 'RWSPLIT_INVALID_ARGUMENT');
  }
}

/** No connection to the primary could be made (connect failed, or its circuit breaker is open). Nothing was executed. */
export class PrimaryUnavailableError extends RwsplitError {
  override name = 'PrimaryUnavailableError';
  constructor(node: string, detail: string, cause?: unknown) {
    super(
      `Primary ${node} is unavailable (${detail}); the statement was not executed. Retry after a short back-off, and check that the primary is running and reachable.`,
      'RWSPLIT_PRIMARY_UNAVAILABLE',
      true,
      { node, cause },
    );
  }
}

/** No connection to a replica could be made. Reads normally retry elsewhere first; this surfaces when they cannot. */
export class ReplicaUnavailableError extends RwsplitError {
  override name = 'ReplicaUnavailableError';
  constructor(node: string, detail: string, cause?: unknown) {
    super(
      `Replica ${node} is unavailable (${detail}); the statement was not executed. Retry, or allow reads on the primary with whenNoReplica: 'primary'.`,
      'RWSPLIT_REPLICA_UNAVAILABLE',
      true,
      { node, cause },
    );
  }
}

/** A read needed a replica, none is healthy, and `whenNoReplica` is `'error'`. */
export class NoReplicaAvailableError extends RwsplitError {
  override name = 'NoReplicaAvailableError';
  constructor(cause?: unknown) {
    super(
      "No healthy replica is available for this read. Retry later, or set whenNoReplica: 'primary' to read from the primary meanwhile.",
      'RWSPLIT_NO_REPLICA',
      true,
      { cause },
    );
  }
}

/** Every connection of a node's pool stayed busy for `pool.acquireTimeoutMs`. Nothing was executed. */
export class AcquireTimeoutError extends RwsplitError {
  override name = 'AcquireTimeoutError';
  constructor(node: string, timeoutMs: number, cause?: unknown) {
    super(
      `No connection to ${node} became free within ${timeoutMs} ms; the statement was not executed. Release connections sooner (sessions, getConnection), raise pool.max, or raise pool.acquireTimeoutMs.`,
      'RWSPLIT_ACQUIRE_TIMEOUT',
      true,
      { node, cause },
    );
  }
}

/**
 * The connection failed while the statement was in flight. For a read this is retryable; for a write the
 * outcome is unknown (it may or may not have been applied), so it is not: check before running it again.
 */
export class QueryFailedError extends RwsplitError {
  override name = 'QueryFailedError';
  constructor(node: string, isRead: boolean, cause: unknown) {
    super(
      isRead
        ? `The connection to ${node} failed during a read. The read can be retried.`
        : `The connection to ${node} failed while a write was in flight; it may or may not have been applied. Check the data before retrying.`,
      'RWSPLIT_QUERY_FAILED',
      isRead,
      { node, cause },
    );
  }
}

/** A replica was requested (hint or `target` option) for a statement that must run on the primary. Not executed. */
export class HintRefusedError extends RwsplitError {
  override name = 'HintRefusedError';
  constructor(operation: string, reason: string, via: string) {
    super(
      `Refused to run ${operation || 'this statement'} on a replica (${via}): it is classified as "${reason}" and must run on the primary. ${
        via === 'readOnly transaction'
          ? 'Run it in a read-write transaction (readOnly: false).'
          : 'Remove the replica hint or target option.'
      }`,
      'RWSPLIT_HINT_REFUSED',
    );
  }
}

/** A statement whose effect lives in the connection was sent through the shared (pooled) API. Not executed. */
export class SessionStateError extends RwsplitError {
  override name = 'SessionStateError';
  constructor(operation: string) {
    super(
      `${operation || 'This statement'} changes connection state, which would be lost on a pooled connection; it was not executed. Run it inside db.session() or db.transaction().`,
      'RWSPLIT_SESSION_STATE',
    );
  }
}

/** A session (or a pinned connection from `getConnection()`) was used after `release()`. */
export class SessionReleasedError extends RwsplitError {
  override name = 'SessionReleasedError';
  constructor() {
    super(
      'This session was already released; it holds no connection any more. Start a new one with db.session() or db.getConnection().',
      'RWSPLIT_SESSION_RELEASED',
    );
  }
}

/** A transaction handle was used after its callback finished. */
export class TransactionEndedError extends RwsplitError {
  override name = 'TransactionEndedError';
  constructor() {
    super(
      'This transaction has already committed or rolled back. Run statements inside the transaction callback, before it returns.',
      'RWSPLIT_TRANSACTION_ENDED',
    );
  }
}

/** The connection failed during COMMIT: the transaction may or may not have been committed. */
export class TransactionResolutionUnknownError extends RwsplitError {
  override name = 'TransactionResolutionUnknownError';
  constructor(node: string, cause: unknown) {
    super(
      `The connection to ${node} failed during COMMIT: the transaction's outcome is unknown (it may or may not have been committed). Check the data before retrying.`,
      'RWSPLIT_TRANSACTION_UNKNOWN',
      false,
      { node, cause },
    );
  }
}

/** The router was closed; it runs nothing any more. */
export class RouterClosedError extends RwsplitError {
  override name = 'RouterClosedError';
  constructor() {
    super(
      'The router is closed. Create a new one with createRouter() if you need to query again.',
      'RWSPLIT_CLOSED',
    );
  }
}
