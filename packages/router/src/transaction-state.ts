import type { Classification } from './classify/classification.js';

/**
 * What a pinned connection may hold beyond its pool's defaults, from the classifier's transaction
 * effects: a pure rule, so the cases are unit-tested without a server.
 *
 * - `open`: a transaction may be open (BEGIN, START TRANSACTION, COMMIT AND CHAIN, XA START ... until
 *   COMMIT, ROLLBACK, an implicit commit or SET autocommit = 1). ROLLBACK TO SAVEPOINT and RELEASE
 *   SAVEPOINT leave it open.
 * - `dirty`: anything else that lives in the connection: user variables, temporary tables, locks,
 *   prepared statements, SET of any variable (autocommit = 0 included), SET TRANSACTION (it would
 *   apply to the next user's transaction).
 *
 * A connection that is not `clean` is reset (or destroyed) before it goes back to the pool.
 */
export class TransactionState {
  open = false;
  dirty = false;

  /** After `classification`'s statement succeeded on the connection. */
  apply(classification: Classification): void {
    const effect = classification.transaction;
    switch (effect) {
      case 'begin':
      case 'begin-read-only':
      case 'chain':
      case 'xa-start':
        this.open = true;
        break;
      case 'commit':
      case 'rollback':
      case 'implicit-commit':
      case 'end-and-disconnect':
      case 'xa-commit':
      case 'xa-rollback':
      case 'autocommit-on':
        this.open = false;
        break;
      case 'autocommit-off':
        this.dirty = true;
        break;
      default:
        break;
    }
    if (!classification.sessionState) return;
    // Transaction control with an effect is tracked above; any other connection state is dirt.
    if (classification.reason !== 'transaction control' || effect === 'none') this.dirty = true;
  }

  /** A user's statement inside a managed transaction: anything but savepoints leaves state the manager did not. */
  applyInside(classification: Classification): void {
    if (!classification.sessionState) return;
    const effect = classification.transaction;
    if (effect === 'savepoint' || effect === 'release-savepoint' || effect === 'rollback-to') return;
    this.dirty = true;
  }

  /** Nothing but complete transactions ran: the connection can go back as it is. */
  get clean(): boolean {
    return !this.open && !this.dirty;
  }

  forget(): void {
    this.open = false;
    this.dirty = false;
  }
}

/**
 * What a read-only transaction on a replica must not run: anything only the primary can do (writes,
 * locking reads, named locks and other primary-only functions, unknown statements). Variables and other
 * connection settings may run: the connection is reset before it is reused.
 */
export function primaryOnly(classification: Classification): boolean {
  if (classification.target !== 'primary') return false;
  return classification.reason !== 'session state' && classification.reason !== 'transaction control';
}

/**
 * What a session pinned to a replica for one read-only transaction must not run: what only the primary can
 * do, and connection state the session would lose when the transaction ends and the replica is let go.
 */
export function refusedOnReplicaPin(classification: Classification): boolean {
  if (classification.transaction !== 'none') return false;
  return primaryOnly(classification) || classification.sessionState;
}
