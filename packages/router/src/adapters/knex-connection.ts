import { Readable } from 'node:stream';
import type { FieldPacket, QueryResult, QueryValues } from 'mysql2/promise';
import { NotSupportedError, SessionReleasedError } from '../errors.js';
import { type ResultTuple, type Statement, sqlOf } from '../statement.js';
import type { TransactionOptions } from '../transaction.js';
import { HeldTransaction } from './held-transaction.js';
import { knexControl } from './knex-control.js';
import { okPacket } from './ok-packet.js';
import type { RoutedClient } from './routed-client.js';

/** mysql2's query callback, as knex's mysql2 client passes it. */
export type KnexQueryCallback = (error: unknown, rows?: QueryResult, fields?: FieldPacket[]) => void;

/** What `query()` without a callback returns: knex calls `.stream()` on it for `.stream()` and `.pipe()`. */
export interface KnexQueryStream {
  stream(options?: object): Readable;
}

/**
 * What `RwsplitKnexPool.getConnection()` hands knex: the subset of a mysql2 callback `PoolConnection` that
 * knex's mysql2 client calls (`query(options, bindings, callback)`, `query(...).stream()`, `release()`,
 * `destroy()`), and no database connection of its own. Knex takes a connection per query, so one pinned
 * per acquire would send every read to the primary: outside a transaction each statement goes to the client
 * (the router, or a session) and is routed there. Through the router, a statement that changes connection
 * state (`SET @x = 1`) is refused with `SessionStateError`, as `router.query()` refuses it: its state would
 * be gone with the next statement.
 *
 * How a transaction's connection is told from a query's: knex's `Transaction` takes its connection from the
 * pool like any query, marks it with `__knexTxId` (before it sends anything, removed before release), then
 * sends `SET TRANSACTION ...;` (for an isolation level or read only), `BEGIN;`, the statements, and `COMMIT;`
 * or `ROLLBACK`. On a marked connection those control statements (`knexControl`) are answered here and map
 * onto the client's own `transaction(fn, options)` (`HeldTransaction`), so the router picks the node: the
 * primary, or a replica for `{ readOnly: true }`, with COMMIT's position in the session's token. The same
 * text on an unmarked connection is an ordinary statement, refused by the router as session state.
 */
export class RwsplitKnexConnection {
  /** Knex's transaction id while a transaction runs on this connection; knex sets and deletes it. */
  __knexTxId?: string | undefined;
  /** Knex's id for this connection in its debug output; knex sets it. */
  __knexUid?: string | undefined;
  /** Set by knex when a statement timed out (`.timeout()`); knex then calls `destroy()`, not `release()`. */
  __knex__disposed?: unknown;
  private held: HeldTransaction | undefined;
  private mode: TransactionOptions = {};
  private released = false;

  constructor(private readonly client: RoutedClient) {}

  /** With a callback: runs the statement (knex's `_query`). Without: a stream, which fails (knex's `_stream`). */
  query(statement: Statement, values: unknown, callback: KnexQueryCallback): void;
  query(statement: Statement, values?: unknown): KnexQueryStream;
  query(statement: Statement, values?: unknown, callback?: KnexQueryCallback): KnexQueryStream | undefined {
    if (callback === undefined) return { stream: refusedStream };
    this.run(statement, values as QueryValues).then(
      ([rows, fields]) => callback(null, rows, fields),
      (error: unknown) => callback(error),
    );
    return undefined;
  }

  /** Knex is done with it: a transaction still open is rolled back, never kept. */
  release(): void {
    this.released = true;
    const held = this.held;
    this.held = undefined;
    if (held?.open) void held.rollback().catch(() => {});
  }

  /** What knex calls instead of `release()` after a `.timeout()`: the same (the router bounds the statement itself). */
  destroy(): void {
    this.release();
  }

  private run(options: Statement, values: QueryValues): Promise<ResultTuple> {
    if (this.released) return Promise.reject(new SessionReleasedError());
    const statement = plainText(options);
    if (this.held === undefined && this.__knexTxId === undefined) return this.client.query(statement, values);
    return this.inTransaction(statement, values);
  }

  /** A statement on a connection knex runs a transaction on. */
  private async inTransaction(statement: Statement, values: QueryValues): Promise<ResultTuple> {
    const control = knexControl(sqlOf(statement));
    const held = this.held;
    if (held !== undefined) {
      if (control?.kind !== 'commit' && control?.kind !== 'rollback') return held.tx.query(statement, values);
      this.held = undefined;
      await (control.kind === 'commit' ? held.commit() : held.rollback());
      return okPacket();
    }
    switch (control?.kind) {
      case undefined:
        return this.client.query(statement, values);
      case 'mode':
        // Held for the BEGIN that follows: the router sets it on the connection it chooses.
        this.mode =
          control.isolationLevel === undefined
            ? { readOnly: control.readOnly }
            : { readOnly: control.readOnly, isolationLevel: control.isolationLevel };
        return okPacket();
      case 'begin':
        await this.begin();
        return okPacket();
      default:
        // COMMIT or ROLLBACK with nothing open (the BEGIN failed): nothing to end, as on the server.
        return okPacket();
    }
  }

  private async begin(): Promise<void> {
    const options = this.mode;
    this.mode = {};
    const held = await HeldTransaction.begin(this.client, options);
    // Released while it was starting (knex awaits the BEGIN, so not through knex): end it at once.
    if (this.released) {
      await held.rollback();
      throw new SessionReleasedError();
    }
    this.held = held;
  }
}

/**
 * Knex wraps every statement as `{ sql, ...builder.options() }`. Without options, the text alone is the same
 * statement, and takes the router's fast path (its cached route for that text) and mysql2's.
 */
function plainText(statement: Statement): Statement {
  if (typeof statement === 'string') return statement;
  for (const key in statement) if (key !== 'sql') return statement;
  return statement.sql;
}

function refusedStream(): Readable {
  const stream = new Readable({ objectMode: true, read() {} });
  // After knex has attached its listeners (it pipes the stream right after this returns).
  process.nextTick(() =>
    stream.destroy(
      new NotSupportedError(
        "Knex's stream() and pipe()",
        'the router returns whole result sets; it does not stream rows',
        'Await the query instead, paginated (a limit with a keyset) for large results.',
      ),
    ),
  );
  return stream;
}
