import type { Transaction, TransactionCallback, TransactionOptions } from '../transaction.js';

/** What runs a transaction around a callback: the router and its sessions (and fakes in tests). */
export interface TransactionRunner {
  transaction<T>(fn: TransactionCallback<T>, options?: TransactionOptions): Promise<T>;
}

/** How `rollback()` ends the callback. Private, so it is never mistaken for an error of the caller's. */
class RollbackRequested extends Error {
  override name = 'RollbackRequested';
  constructor() {
    super('the ORM rolled the transaction back');
  }
}

/** The callback's handle and the two ways to end it. */
interface Opened {
  readonly tx: Transaction;
  readonly commit: () => void;
  readonly rollback: (reason: RollbackRequested) => void;
}

/**
 * `runner.transaction(fn)` turned inside out, for ORMs that drive a transaction as begin, statements, then
 * commit or rollback, instead of a callback: `begin()` resolves once the router has started it, `commit()`
 * lets the callback return, `rollback()` makes it throw. Everything the router does for a transaction
 * stays in force, because it is still the router's `transaction()` running: a read-only one goes to a
 * replica that satisfies the session's consistency, the COMMIT's position goes into the session's token,
 * a connection lost during COMMIT is `TransactionResolutionUnknownError`, and the connection goes back to
 * its pool (reset if needed) in every path.
 */
export class HeldTransaction {
  private ended = false;

  private constructor(
    /** Where the transaction's statements run. */
    readonly tx: Transaction,
    /** The runner's promise: settles once the transaction committed or rolled back and let go of its connection. */
    private readonly finished: Promise<void>,
    private readonly opened: Opened,
  ) {}

  /** Starts a transaction; rejects with the runner's error if it could not start (no connection, START refused). */
  static async begin(runner: TransactionRunner, options: TransactionOptions): Promise<HeldTransaction> {
    let open: ((opened: Opened) => void) | undefined;
    const opening = new Promise<Opened>((resolve) => {
      open = resolve;
    });
    const finished = runner.transaction(
      (tx) => new Promise<void>((commit, rollback) => open?.({ tx, commit, rollback })),
      options,
    );
    // Until the callback runs, the runner's promise can only settle with a failure to start.
    const opened = await Promise.race([opening, finished.then(neverOpened)]);
    return new HeldTransaction(opened.tx, finished, opened);
  }

  /** Neither `commit()` nor `rollback()` was called yet. */
  get open(): boolean {
    return !this.ended;
  }

  /** Commits; rejects as the router's COMMIT did (`TransactionResolutionUnknownError`, a deadlock ...). */
  async commit(): Promise<void> {
    this.ended = true;
    this.opened.commit();
    await this.finished;
  }

  /** Rolls back (quietly, as the router does: a connection that cannot roll back is destroyed, not reused). */
  async rollback(): Promise<void> {
    this.ended = true;
    this.opened.rollback(new RollbackRequested());
    try {
      await this.finished;
    } catch (error) {
      if (!(error instanceof RollbackRequested)) throw error;
    }
  }
}

function neverOpened(): never {
  throw new Error('The transaction ended before its callback ran; this is a bug in @rwsplit/router.');
}
