import type { ExecuteValues, FieldPacket, QueryOptions, QueryResult, QueryValues } from 'mysql2/promise';
import type { RouteTarget } from './classify/classification.js';
import { CallbackApiError, InvalidArgumentError } from './errors.js';

/** mysql2's `QueryOptions`, plus the router's per-statement `target`. */
export interface RouterQueryOptions extends QueryOptions {
  /** Run on the primary, or ask for a replica (refused for statements that must run on the primary). */
  readonly target?: RouteTarget;
}

/** The third argument of `query`/`execute`. */
export interface StatementOptions {
  /** Same as `RouterQueryOptions.target`; wins over it and over a comment hint. */
  readonly target?: RouteTarget;
  /**
   * This statement's whole time budget in ms, retry included (a read's attempt is still capped by
   * `timeouts.readMs`). Default: `timeouts.readTotalMs` for reads, `timeouts.writeMs` for the rest.
   * mysql2's own `timeout` in a QueryOptions object is left to mysql2.
   */
  readonly timeoutMs?: number;
}

/** What `query`/`execute` accept first: SQL text, or a mysql2 options object (`{ sql, rowsAsArray, typeCast, values ... }`). */
export type Statement = string | RouterQueryOptions;

/** mysql2/promise's result tuple. */
export type ResultTuple<T extends QueryResult = QueryResult> = [T, FieldPacket[]];

/** Which mysql2 method runs the statement: text protocol `query`, or prepared-statement `execute`. */
export type StatementKind = 'query' | 'execute';

/**
 * The mysql2/promise statement surface, shared by the router, sessions, pinned connections and
 * transactions, so ORMs that call `query(options, params)` or `execute(sql, params)` work on any of them.
 */
export interface Queryable {
  query<T extends QueryResult = QueryResult>(
    statement: Statement,
    values?: QueryValues,
    options?: StatementOptions,
  ): Promise<ResultTuple<T>>;
  execute<T extends QueryResult = QueryResult>(
    statement: Statement,
    values?: ExecuteValues,
    options?: StatementOptions,
  ): Promise<ResultTuple<T>>;
}

/** The SQL text of a statement argument; throws `InvalidArgumentError` for anything else. */
export function sqlOf(statement: unknown): string {
  if (typeof statement === 'string') return statement;
  if (typeof statement === 'object' && statement !== null) {
    const sql = (statement as { readonly sql?: unknown }).sql;
    if (typeof sql === 'string') return sql;
  }
  throw new InvalidArgumentError(
    'Expected SQL text or a mysql2 QueryOptions object with a string `sql` property as the first argument',
  );
}

function checkTarget(target: unknown, where: string): RouteTarget | undefined {
  if (target === undefined || target === 'primary' || target === 'replica') return target;
  throw new InvalidArgumentError(`${where} must be 'primary' or 'replica', got ${String(target)}`);
}

/** The deadline asked for by the call (`{ timeoutMs }` as third argument), if any. */
export function timeoutOf(_statement: Statement, options: StatementOptions | undefined): number | undefined {
  if (options === undefined || options === null) return undefined;
  if (typeof options === 'function') throw new CallbackApiError('query');
  const ms = options.timeoutMs;
  if (ms === undefined) return undefined;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0) {
    throw new InvalidArgumentError(
      `options.timeoutMs must be a positive number of milliseconds, got ${String(ms)}`,
    );
  }
  return ms;
}

/** The target asked for by the call: the third argument first, then the options object's `target`. */
export function requestedTarget(
  statement: Statement,
  options: StatementOptions | undefined,
): RouteTarget | undefined {
  if (options !== undefined && options !== null) {
    const target = checkTarget(options.target, 'options.target');
    if (target !== undefined) return target;
  }
  return typeof statement === 'string' ? undefined : checkTarget(statement.target, 'target');
}
