import type { CompiledQuery, DatabaseConnection, QueryResult } from 'kysely';
import type { QueryValues } from 'mysql2/promise';
import {
  InvalidArgumentError,
  NotSupportedError,
  SessionStateError,
  TransactionEndedError,
} from '../errors.js';
import type { Session } from '../session.js';
import type { ResultTuple } from '../statement.js';
import type { TransactionOptions } from '../transaction.js';
import { HeldTransaction } from './held-transaction.js';
import { opensSessions, type RoutedClient } from './routed-client.js';

/**
 * What `RwsplitKyselyDriver.acquireConnection()` gives Kysely. It holds no database connection of its own:
 * Kysely acquires one per query, and a connection that pinned itself per query would send every read to
 * the primary. So each statement goes to the client (the router, or a session) and is routed there, until
 * one of two things makes this connection hold a real one:
 *
 * - a transaction (Kysely calls the driver's `beginTransaction`): its statements run in a router
 *   transaction (`HeldTransaction`), on the primary, or on a replica for `setAccessMode('read only')`;
 * - connection state. Kysely acquires a connection the same way for one query and for `db.connection()`,
 *   which is how Kysely users run `SET`, temporary tables and its Migrator's `GET_LOCK`, so the driver
 *   cannot refuse state the way `router.query()` does without breaking those. When the router refuses a
 *   statement as session state (`SessionStateError`: it ran nothing), this connection opens a session of
 *   its own, which pins itself to a primary connection at that statement, and runs it there; every later
 *   statement of this Kysely connection follows it. On release, the session is ended: its connection is
 *   reset (COM_RESET_CONNECTION) before it returns to the pool, so a lone `SET` through `db` affects nothing
 *   after it, deterministically. A session given as the client pins itself instead (its own rule), and
 *   stays so until its owner releases it.
 */
export class RwsplitKyselyConnection implements DatabaseConnection {
  /** The session this connection opened for connection state (router clients only). */
  private pinned: Session | undefined;
  private held: HeldTransaction | undefined;

  constructor(private readonly client: RoutedClient) {}

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    const { sql } = compiledQuery;
    const values = compiledQuery.parameters as QueryValues;
    const held = this.held;
    // Text protocol, as Kysely's own MysqlDialect uses (mysql2's `query`): the same values come back.
    if (held !== undefined) return resultOf<R>(await held.tx.query(sql, values));
    const target = this.pinned ?? this.client;
    try {
      return resultOf<R>(await target.query(sql, values));
    } catch (error) {
      if (!(error instanceof SessionStateError) || target !== this.client || !opensSessions(this.client)) {
        throw error;
      }
      this.pinned = this.client.session();
      return resultOf<R>(await this.pinned.query(sql, values));
    }
  }

  /**
   * Refused: the router returns whole result sets (its statements are routed, retried and bounded by
   * deadlines as one result), and buffering a result the caller meant to stream would hide its size.
   */
  // biome-ignore lint/correctness/useYield: it refuses before the first row, by design.
  async *streamQuery<R>(
    _compiledQuery: CompiledQuery,
    _chunkSize?: number,
  ): AsyncIterableIterator<QueryResult<R>> {
    throw new NotSupportedError(
      "Kysely's stream()",
      'the router returns whole result sets; it does not stream rows',
      'Use execute() instead, paginated (a limit with a keyset) for large results.',
    );
  }

  /** @internal The driver's `beginTransaction`. */
  async begin(options: TransactionOptions): Promise<void> {
    if (this.held?.open) {
      throw new InvalidArgumentError(
        'A transaction is already open on this Kysely connection',
        'Nest it with savepoints (Kysely: trx.savepoint()) instead.',
      );
    }
    this.held = await HeldTransaction.begin(this.pinned ?? this.client, options);
  }

  /** @internal The driver's `commitTransaction`. */
  async commit(): Promise<void> {
    const held = this.held;
    this.held = undefined;
    if (held === undefined || !held.open) throw new TransactionEndedError();
    await held.commit();
  }

  /** @internal The driver's `rollbackTransaction`: nothing to do after a COMMIT that failed (the router ended it). */
  async rollback(): Promise<void> {
    const held = this.held;
    this.held = undefined;
    if (held?.open) await held.rollback();
  }

  /** @internal A savepoint statement (compiled by Kysely, so the name is quoted), inside the transaction. */
  async inTransaction(compiledQuery: CompiledQuery): Promise<void> {
    const held = this.held;
    if (held === undefined || !held.open) throw new TransactionEndedError();
    await held.tx.query(compiledQuery.sql, compiledQuery.parameters as QueryValues);
  }

  /** @internal The driver's `releaseConnection`: ends what this connection holds, so its pool gets it back. */
  release(): Promise<void> {
    // Kysely releases after every query: most connections held nothing, and owe no extra await.
    if (this.held === undefined && this.pinned === undefined) return DONE;
    return this.letGo();
  }

  private async letGo(): Promise<void> {
    const held = this.held;
    const pinned = this.pinned;
    this.held = undefined;
    this.pinned = undefined;
    // Kysely releases only after COMMIT or ROLLBACK; a transaction still open here is rolled back, never kept.
    if (held?.open) await held.rollback().catch(() => {});
    await pinned?.end();
  }
}

const DONE: Promise<void> = Promise.resolve();

/** Kysely's result from mysql2's, as Kysely's own MysqlDialect builds it. */
function resultOf<R>([result]: ResultTuple): QueryResult<R> {
  if (Array.isArray(result)) return { rows: result as R[] };
  const header = result as Partial<Record<'insertId' | 'affectedRows' | 'changedRows', number | bigint>>;
  if (!('insertId' in header && 'affectedRows' in header)) return { rows: [] };
  const { insertId, affectedRows, changedRows } = header;
  return {
    rows: [],
    ...(insertId !== undefined && insertId !== null && insertId.toString() !== '0'
      ? { insertId: BigInt(insertId) }
      : {}),
    ...(affectedRows !== undefined && affectedRows !== null ? { numAffectedRows: BigInt(affectedRows) } : {}),
    ...(changedRows !== undefined && changedRows !== null ? { numChangedRows: BigInt(changedRows) } : {}),
  };
}
