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
export const RWSPLIT_ERROR_CODES = [
  'RWSPLIT_INVALID_OPTION',
  'RWSPLIT_INVALID_ARGUMENT',
  'RWSPLIT_PRIMARY_UNAVAILABLE',
  'RWSPLIT_REPLICA_UNAVAILABLE',
  'RWSPLIT_NO_REPLICA',
  'RWSPLIT_ACQUIRE_TIMEOUT',
  'RWSPLIT_QUERY_FAILED',
  'RWSPLIT_HINT_REFUSED',
  'RWSPLIT_SESSION_STATE',
  'RWSPLIT_SESSION_RELEASED',
  'RWSPLIT_TRANSACTION_ENDED',
  'RWSPLIT_TRANSACTION_UNKNOWN',
  'RWSPLIT_WRITE_OUTCOME_UNKNOWN',
  'RWSPLIT_STATEMENT_TIMEOUT',
  'RWSPLIT_CALLBACK_API',
  'RWSPLIT_CONNECTION_LOST',
  'RWSPLIT_CLOSED',
  'RWSPLIT_TLS_VERIFICATION_FAILED',
  'RWSPLIT_NOT_SUPPORTED',
] as const;

export type RwsplitErrorCode = (typeof RWSPLIT_ERROR_CODES)[number];

/**
 * Marks an rwsplit error; its value is the error's code. `Symbol.for` puts the key in the global registry,
 * so every copy of this package in the process (two installed versions, an ESM and a bundled copy) uses
 * the same key and recognises the others' errors. The key and its meaning never change.
 */
const BRAND: unique symbol = Symbol.for('@rwsplit/router.error');

function brandOf(value: unknown): unknown {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return undefined;
  return (value as { [BRAND]?: unknown })[BRAND];
}

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

  /** On the prototype, so it stays out of the error's own (logged, inspected) properties. */
  get [BRAND](): RwsplitErrorCode {
    return this.code;
  }

  /**
   * `instanceof` by brand rather than by prototype, so an error made by another copy of this package is
   * still an `RwsplitError`, and a `PrimaryUnavailableError` when its code says so (each class has one
   * code). A class of your own that extends one of ours keeps the ordinary prototype check.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class right of instanceof, a subclass included.
    return isInstance(this, value);
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

/** The connection failed while a read was in flight (on every node it was tried on). Nothing was changed: retry it. */
export class QueryFailedError extends RwsplitError {
  override name = 'QueryFailedError';
  constructor(node: string, cause: unknown) {
    super(
      `The connection to ${node} failed during a read; nothing was changed. Retry the read.`,
      'RWSPLIT_QUERY_FAILED',
      true,
      { node, cause },
    );
  }
}

/** Why a write's outcome is unknown. */
export type OutcomeUnknownReason = 'connection lost' | 'deadline passed';

/**
 * A write was sent, and then its connection failed or its deadline passed before the server answered:
 * it may or may not have been applied. Never retried by the router; check before running it again.
 */
export class WriteOutcomeUnknownError extends RwsplitError {
  override name = 'WriteOutcomeUnknownError';
  constructor(
    node: string,
    readonly reason: OutcomeUnknownReason,
    cause?: unknown,
  ) {
    super(
      `The write on ${node} was sent but ${
        reason === 'connection lost' ? 'its connection failed' : 'its deadline passed'
      } before the server answered: it may or may not have been applied. Check the data before running it again (or make the write idempotent).`,
      'RWSPLIT_WRITE_OUTCOME_UNKNOWN',
      false,
      { node, cause },
    );
  }
}

/**
 * A statement did not finish within its deadline (`timeouts` option or `{ timeoutMs }`), and nothing it
 * did can have changed data: a read (abandoned and cancelled on the server, after its one retry), or a
 * statement that never got a connection. Retryable, except when it ran on a connection a session or
 * transaction held (`connectionLost`): that connection was closed with it, and whatever it held (an open
 * transaction, variables, locks) is gone.
 */
export class StatementTimeoutError extends RwsplitError {
  override name = 'StatementTimeoutError';
  /** The session's or transaction's connection was closed with the statement. */
  readonly connectionLost: boolean;
  constructor(
    node: string,
    readonly timeoutMs: number,
    cause?: unknown,
    options: { readonly connectionLost?: boolean } = {},
  ) {
    const lost = options.connectionLost === true;
    super(
      lost
        ? `The statement did not finish within its ${timeoutMs} ms deadline on ${node}, so the connection it was pinned to was closed, and with it the session's or transaction's state (an open transaction is rolled back). Start the work again from its beginning in a new session or transaction.`
        : `The statement did not finish within its ${timeoutMs} ms deadline (last tried on ${node}); it changed nothing. Retry later, or raise timeouts.readMs / pass { timeoutMs } for slow reads.`,
      'RWSPLIT_STATEMENT_TIMEOUT',
      !lost,
      { node, cause },
    );
    this.connectionLost = lost;
  }
}

/**
 * A callback was passed to the router (mysql2's callback API, as Kysely's MysqlDialect calls
 * `getConnection(cb)`). The router has mysql2/promise's API only; nothing was run and no connection taken.
 */
export class CallbackApiError extends RwsplitError {
  override name = 'CallbackApiError';
  constructor(method: string) {
    super(
      `${method}() was called with a callback, but the router has mysql2/promise's API: it returns promises and never calls back. Use \`await db.${method}(...)\`; for an ORM that needs mysql2's callback pool (Kysely's MysqlDialect), use its rwsplit adapter instead of passing the router as the pool.`,
      'RWSPLIT_CALLBACK_API',
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

/**
 * The connection a session or transaction holds was closed (it failed, or a statement on it passed its
 * deadline and was abandoned), and with it what it held: an open transaction is rolled back, variables,
 * temporary tables and locks are gone. The session refuses further statements rather than run them on a
 * new connection without that state.
 */
export class ConnectionLostError extends RwsplitError {
  override name = 'ConnectionLostError';
  constructor(node: string, cause?: unknown) {
    super(
      `The connection to ${node} that this session or transaction was pinned to is closed, and with it its state (an open transaction was rolled back). Release the session and start the work again from its beginning.`,
      'RWSPLIT_CONNECTION_LOST',
      false,
      { node, cause },
    );
  }
}

/**
 * What failed when a node's TLS could not be trusted: its certificate chain (`unknown CA`, `self-signed`,
 * `expired`, `not yet valid`, `rejected` for the rarer verification failures), its names (`name mismatch`:
 * no subjectAltName for the address the node is configured with), the server itself (`no TLS support`),
 * or the check (`not checked`: the driver did not let the router see the handshake, or resumed a TLS
 * session the router never verified for that address).
 */
export type TlsFailureReason =
  | 'unknown CA'
  | 'self-signed'
  | 'expired'
  | 'not yet valid'
  | 'rejected'
  | 'name mismatch'
  | 'no TLS support'
  | 'not checked';

/** What each TLS failure means and what to do about it, for a node whose host (as configured) is `host`. */
const TLS_FAILURES: Readonly<
  Record<TlsFailureReason, { readonly problem: string; readonly advice: (host: string) => string }>
> = {
  'unknown CA': {
    problem: 'its certificate is not signed by a CA the router trusts',
    advice: () => "Pass the CA that signed the cluster's server certificates as `connection.ssl.ca`.",
  },
  'self-signed': {
    problem: 'its certificate is self-signed, or its chain ends in a CA the router does not trust',
    advice: () =>
      "Pass the CA that signed the cluster's server certificates (or that certificate) as `connection.ssl.ca`.",
  },
  expired: {
    problem: 'its certificate has expired',
    advice: () => "Check the certificate's validity dates and issue the server a new one.",
  },
  'not yet valid': {
    problem: 'its certificate is not valid yet',
    advice: () => "Check the certificate's validity dates and the clocks of both hosts.",
  },
  rejected: {
    problem: 'its certificate was rejected',
    advice: () => 'Check the certificate and its chain against the CA passed as `connection.ssl.ca`.',
  },
  'name mismatch': {
    problem: 'its certificate does not name the host the router connects to',
    advice: (host) =>
      `Check that the certificate's subjectAltName lists ${host} exactly as the node's host is configured (IP:${host} for an address, DNS:${host} for a name).`,
  },
  'no TLS support': {
    problem: 'the server does not support TLS, but `connection.ssl` is set',
    advice: () =>
      "Check the server's TLS settings (ssl_cert, ssl_key): the router never connects to it unencrypted.",
  },
  'not checked': {
    problem: 'the router could not check its certificate against the host',
    advice: () =>
      'Pass `connection.ssl` as an options object (not a profile name shared with other mysql2 connections of the process), with the mysql2 version the router depends on.',
  },
};

/**
 * A node's TLS could not be trusted, so the router did not use it: the certificate failed verification
 * (`reason` says how), did not name the node's address, or the server offered no TLS. The statement was
 * not sent (with the default driver, not even the credentials were). A read that hits such a node was
 * already retried on another eligible one; this is what the caller sees when that was not possible, in
 * place of `PrimaryUnavailableError` or `ReplicaUnavailableError`, so that the cause is not mistaken for
 * an outage. Not retryable: the same certificate fails the same way until someone replaces it or changes
 * `connection.ssl`.
 */
export class TlsVerificationError extends RwsplitError {
  override name = 'TlsVerificationError';
  constructor(
    node: string,
    /** `host:port` as configured: what the certificate was checked against. */
    readonly address: string,
    readonly reason: TlsFailureReason,
    cause?: unknown,
  ) {
    const { problem, advice } = TLS_FAILURES[reason];
    const detail = cause instanceof Error && cause.message !== '' ? ` (${cause.message})` : '';
    const host = address.slice(0, address.lastIndexOf(':'));
    super(
      `TLS verification of ${node} (${address}) failed: ${problem}${detail}. The statement was not executed. ${advice(host)}`,
      'RWSPLIT_TLS_VERIFICATION_FAILED',
      false,
      { node, cause },
    );
  }
}

/**
 * An ORM adapter was asked for something the router cannot do faithfully (Drizzle's `iterator()`,
 * Kysely's `stream()` and Knex's `.stream()` stream rows over one connection, which the router's pipeline
 * does not; a transaction `WITH CONSISTENT SNAPSHOT`, which its transactions do not start), so it refused
 * rather than do something close to it.
 * `feature` names what was asked; nothing was executed.
 */
export class NotSupportedError extends RwsplitError {
  override name = 'NotSupportedError';
  constructor(
    readonly feature: string,
    why: string,
    advice: string,
  ) {
    super(
      `${feature} is not supported through @rwsplit/router (${why}); nothing was executed. ${advice}`,
      'RWSPLIT_NOT_SUPPORTED',
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

/** The class of each code: exactly one per code. */
export const RWSPLIT_ERROR_CLASSES = Object.freeze({
  RWSPLIT_INVALID_OPTION: InvalidOptionError,
  RWSPLIT_INVALID_ARGUMENT: InvalidArgumentError,
  RWSPLIT_PRIMARY_UNAVAILABLE: PrimaryUnavailableError,
  RWSPLIT_REPLICA_UNAVAILABLE: ReplicaUnavailableError,
  RWSPLIT_NO_REPLICA: NoReplicaAvailableError,
  RWSPLIT_ACQUIRE_TIMEOUT: AcquireTimeoutError,
  RWSPLIT_QUERY_FAILED: QueryFailedError,
  RWSPLIT_HINT_REFUSED: HintRefusedError,
  RWSPLIT_SESSION_STATE: SessionStateError,
  RWSPLIT_SESSION_RELEASED: SessionReleasedError,
  RWSPLIT_TRANSACTION_ENDED: TransactionEndedError,
  RWSPLIT_TRANSACTION_UNKNOWN: TransactionResolutionUnknownError,
  RWSPLIT_WRITE_OUTCOME_UNKNOWN: WriteOutcomeUnknownError,
  RWSPLIT_STATEMENT_TIMEOUT: StatementTimeoutError,
  RWSPLIT_CALLBACK_API: CallbackApiError,
  RWSPLIT_CONNECTION_LOST: ConnectionLostError,
  RWSPLIT_CLOSED: RouterClosedError,
  RWSPLIT_TLS_VERIFICATION_FAILED: TlsVerificationError,
  RWSPLIT_NOT_SUPPORTED: NotSupportedError,
} satisfies Record<RwsplitErrorCode, abstract new (...args: never[]) => RwsplitError>);

const CODE_OF_CLASS: ReadonlyMap<unknown, RwsplitErrorCode> = new Map(
  RWSPLIT_ERROR_CODES.map((code) => [RWSPLIT_ERROR_CLASSES[code], code]),
);

/** `value instanceof cls` for `RwsplitError` and its subclasses (see `RwsplitError[Symbol.hasInstance]`). */
function isInstance(cls: unknown, value: unknown): boolean {
  const brand = brandOf(value);
  if (cls === RwsplitError) return typeof brand === 'string';
  const code = CODE_OF_CLASS.get(cls);
  // Not one of ours: a caller's subclass, which shares its parent's code, so only the prototype can tell.
  if (code === undefined) return Function.prototype[Symbol.hasInstance].call(cls, value);
  return brand === code;
}
