import { failed, type ParseResult, parsed } from '../consistency/parse-result.js';
import type { Flavor, GtidPosition } from '../consistency/position.js';
import { parsePosition } from '../consistency/position.js';
import type { Probe, RoleState, Statement, WaitOutcome } from './dialect.js';
import { asBoolean, asNumber, asText, type Row, rowsOf } from './row-values.js';

/** Builders shared by the dialects: frozen statements and probes over the first result row. */

export function statement(sql: string, values: readonly unknown[] = []): Statement {
  return Object.freeze({ sql, values: Object.freeze([...values]) });
}

export function probe<T>(
  sql: string,
  values: readonly unknown[],
  read: (row: Row) => ParseResult<T>,
): Probe<T> {
  return Object.freeze({
    sql,
    values: Object.freeze([...values]),
    parse(result: unknown): ParseResult<T> {
      const row = rowsOf(result)?.[0];
      if (row === undefined) return failed(`no row from ${sql}`);
      return read(row);
    },
  });
}

/** Reads a position column (`@@gtid_executed` ...); NULL counts as empty. */
export function readPosition(flavor: Flavor, row: Row, name: string): ParseResult<GtidPosition> {
  const value = row[name];
  const text = value === null ? '' : asText(value);
  if (text === undefined) return failed(`${name} is not text`);
  return parsePosition(flavor, text);
}

/**
 * Read-only when any of the `names` columns is on. A value that is neither on nor off but some other word
 * (newer MariaDB spells read-only modes as words, like `NO_LOCK`) counts as read-only: every such mode refuses
 * ordinary writes.
 */
export function readRole(row: Row, ...names: string[]): ParseResult<RoleState> {
  let readOnly = false;
  for (const name of names) {
    const value = asBoolean(row[name]) ?? (/^[A-Za-z_]+$/.test(asText(row[name]) ?? '') ? true : undefined);
    if (value === undefined) return failed(`${name} is not a boolean: ${String(row[name])}`);
    readOnly ||= value;
  }
  return parsed(Object.freeze({ readOnly }));
}

/** A wait function's result column: `reached` and `timeout` are the values that mean so; anything else fails. */
export function readWait(row: Row, reached: number, timeout: number): ParseResult<WaitOutcome> {
  const value = asNumber(row.waited);
  if (value === reached) return parsed('reached');
  if (value === timeout) return parsed('timeout');
  return failed(`unexpected wait result ${String(row.waited)}`);
}
