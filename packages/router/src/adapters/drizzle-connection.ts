import type { ExecuteValues, QueryValues } from 'mysql2/promise';
import {
  InvalidArgumentError,
  NotSupportedError,
  SessionReleasedError,
  TransactionEndedError,
} from '../errors.js';
import { type ResultTuple, type Statement, type StatementKind, sqlOf } from '../statement.js';
import type { IsolationLevel, TransactionOptions } from '../transaction.js';
import { type DrizzleControl, drizzleControl } from './drizzle-control.js';
import { HeldTransaction, type TransactionRunner } from './held-transaction.js';
import { okPacket } from './ok-packet.js';

/** Where a connection is in Drizzle's transaction protocol. */
type Phase = 'idle' | 'starting' | 'open' | 'ended' | 'released';

/**
 * What `DrizzlePool.getConnection()` hands drizzle-orm's mysql2 session: the pooled connection it runs a
 * transaction on. Drizzle sends `set transaction isolation level ...` (optional), `begin` or `start
 * transaction [read only]`, the statements, `commit` or `rollback`, then calls `release()`. This maps that
 * onto the client's own `transaction(fn, options)` (see `HeldTransaction`), so the router chooses the
 * node: the primary, or for `accessMode: 'read only'` a replica that satisfies the session's consistency,
 * with the isolation level applied there. No connection is taken until the transaction starts.
 *
 * The control statements are answered here, not sent: the router sends its own. Their result is an empty
 * OK packet, which Drizzle does not read.
 */
export class DrizzleConnection {
  private phase: Phase = 'idle';
  private held: HeldTransaction | undefined;
  private isolationLevel: IsolationLevel | undefined;

  constructor(private readonly runner: TransactionRunner) {}

  query(statement: Statement, values?: QueryValues): Promise<ResultTuple> {
    return this.run('query', statement, values);
  }

  execute(statement: Statement, values?: ExecuteValues): Promise<ResultTuple> {
    return this.run('execute', statement, values);
  }

  /** Drizzle calls it after `commit` or `rollback`. A transaction still open then is rolled back, never kept. */
  release(): void {
    const held = this.held;
    this.phase = 'released';
    if (held?.open) void held.rollback().catch(() => {});
  }

  /**
   * drizzle-orm's `iterator()` streams rows from the mysql2 core connection behind this property. The
   * router has no streaming path (its statements are routed, retried and timed as whole results), so it
   * refuses here, before anything ran, rather than buffer a result the caller meant to stream.
   */
  get connection(): never {
    throw new NotSupportedError(
      "Drizzle's iterator()",
      'it streams rows over one raw mysql2 connection, which the router does not expose',
      'Use `await` on the query instead, paginated (limit with a keyset or offset) for large results.',
    );
  }

  private get released(): boolean {
    return this.phase === 'released';
  }

  private async run(kind: StatementKind, statement: Statement, values: unknown): Promise<ResultTuple> {
    const control = drizzleControl(sqlOf(statement));
    const held = this.held;
    if (this.phase === 'open' && held !== undefined) {
      if (control?.kind === 'commit' || control?.kind === 'rollback') {
        // Ended before the outcome is known: after a failed COMMIT, Drizzle's `rollback` finds nothing to do.
        this.phase = 'ended';
        await (control.kind === 'commit' ? held.commit() : held.rollback());
        return okPacket();
      }
      return kind === 'query'
        ? held.tx.query(statement, values as QueryValues)
        : held.tx.execute(statement, values as ExecuteValues);
    }
    return this.outside(control, statement);
  }

  /** A statement while no transaction is open on this connection. */
  private async outside(control: DrizzleControl | undefined, statement: Statement): Promise<ResultTuple> {
    switch (this.phase) {
      case 'released':
        throw new SessionReleasedError();
      case 'starting':
        throw new InvalidArgumentError(
          'A statement arrived while the transaction was still starting',
          'Run the statements of a transaction one after another.',
        );
      case 'ended':
        // Drizzle sends `rollback` after a COMMIT that failed: the router already rolled back, or reported
        // the outcome unknown.
        if (control?.kind === 'commit' || control?.kind === 'rollback') return okPacket();
        throw new TransactionEndedError();
      default:
        break;
    }
    if (control?.kind === 'isolation') {
      // Held for the `start transaction` that follows: the router sets it on the connection it chooses.
      this.isolationLevel = control.level;
      return okPacket();
    }
    if (control?.kind !== 'start') {
      throw new NotSupportedError(
        `\`${sqlOf(statement).slice(0, 60)}\` on a connection from getConnection() before its transaction started`,
        "the rwsplit Drizzle adapter maps Drizzle's transactions onto router transactions, and nothing else",
        'Use db.execute() outside db.transaction(), or check that drizzle-orm is a version this adapter supports.',
      );
    }
    if (control.consistentSnapshot) {
      throw new NotSupportedError(
        'A Drizzle transaction withConsistentSnapshot',
        'the router starts its transactions itself, without WITH CONSISTENT SNAPSHOT',
        'Use a transaction without withConsistentSnapshot (under REPEATABLE READ, its snapshot starts at its first read).',
      );
    }
    await this.start(control.readOnly);
    return okPacket();
  }

  private async start(readOnly: boolean): Promise<void> {
    const options: TransactionOptions =
      this.isolationLevel === undefined ? { readOnly } : { readOnly, isolationLevel: this.isolationLevel };
    this.phase = 'starting';
    try {
      this.held = await HeldTransaction.begin(this.runner, options);
    } catch (error) {
      // Nothing is held: the router gave the connection back (Drizzle never releases after a failed begin).
      this.phase = 'ended';
      throw error;
    }
    // Released while it was starting (not through Drizzle, which awaits the begin): end it at once.
    if (this.released) {
      await this.held.rollback();
      throw new SessionReleasedError();
    }
    this.phase = 'open';
  }
}
