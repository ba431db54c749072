import {
  asBoolean,
  asNumber,
  type ParseResult,
  type Probe,
  type Row,
  rowsOf,
} from '@rwsplit/router/replication';

/** The router's statement builder: one for both packages. */
export { statement } from '@rwsplit/router/replication';

/** A frozen probe whose reader gets the whole `query` result. */
export function probe<T>(
  sql: string,
  values: readonly unknown[],
  parse: (result: unknown) => ParseResult<T>,
): Probe<T> {
  return Object.freeze({ sql, values: Object.freeze([...values]), parse });
}

/** The first row of a `query` result, or undefined. */
export function firstRow(result: unknown): Row | undefined {
  return rowsOf(result)?.[0];
}

/** A server flag (`ON`/`OFF`, `1`/`0`, `YES`/`NO`) as a boolean; absent or anything else is false. */
export function flag(value: unknown): boolean {
  return asBoolean(value) ?? false;
}

/** A numeric column (ids, counters, a function's result) from a number, bigint or numeric string. */
export function count(value: unknown): number | undefined {
  return asNumber(value);
}
