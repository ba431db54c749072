import type { RouteTarget } from './classify/classification.js';
import {
  PrimaryUnavailableError,
  ReplicaUnavailableError,
  type RwsplitError,
  TlsVerificationError,
} from './errors.js';
import { tlsFailureOf } from './tls-failure.js';

/**
 * A node could not give a connection (connect failed, breaker open, connections keep failing
 * validation). Neutral on purpose: a pool has no role. Roles change by failover, so only the statement
 * that was routing knows whether it wanted the primary or a replica; it names the failure with
 * `nameFailure`. Never reaches a caller as it is.
 */
export class NodeUnavailable extends Error {
  override name = 'NodeUnavailable';
  constructor(
    readonly node: string,
    /** `host:port` as configured. */
    readonly address: string,
    readonly detail: string,
    cause?: unknown,
  ) {
    super(`${node} is unavailable (${detail})`, cause === undefined ? undefined : { cause });
  }
}

/**
 * The public error for a node failure, by the target the statement was routing to; by its cause when that
 * is a TLS trust failure (the node is down for no role, and "unavailable" would hide why).
 */
export function unavailableAs(target: RouteTarget, failure: NodeUnavailable): RwsplitError {
  const tls = tlsFailureOf(failure.cause);
  if (tls !== undefined) return new TlsVerificationError(failure.node, failure.address, tls, failure.cause);
  return target === 'primary'
    ? new PrimaryUnavailableError(failure.node, failure.detail, failure.cause)
    : new ReplicaUnavailableError(failure.node, failure.detail, failure.cause);
}

/** `error` with any neutral node failure named by `target`; everything else as it is. */
export function nameFailure(error: unknown, target: RouteTarget): unknown {
  return error instanceof NodeUnavailable ? unavailableAs(target, error) : error;
}

/**
 * A statement's deadline passed while it waited for a connection of `node`: nothing was sent. The
 * statement, which knows its deadline, turns it into `StatementTimeoutError` or retries elsewhere.
 */
export class DeadlinePassed extends Error {
  override name = 'DeadlinePassed';
  constructor(readonly node: string) {
    super(`the deadline passed while waiting for a connection to ${node}`);
  }
}
