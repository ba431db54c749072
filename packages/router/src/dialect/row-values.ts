/**
 * Reading values out of result rows whatever mysql2's options made of them: `1` or `'1'` or `1n` for a
 * number (`supportBigNumbers`, `bigNumberStrings`), `'ON'` for a boolean variable, a Buffer for text in a
 * binary column.
 */

/** One result row as mysql2 returns it by default (column name → value). */
export type Row = Readonly<Record<string, unknown>>;

/** The rows of a result, or undefined when `result` is not an array of row objects. */
export function rowsOf(result: unknown): readonly Row[] | undefined {
  if (!Array.isArray(result)) return undefined;
  for (const row of result) {
    if (row === null || typeof row !== 'object' || Array.isArray(row)) return undefined;
  }
  return result as readonly Row[];
}

export function asText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  return undefined;
}

/** A finite number from a number, bigint or numeric string; undefined otherwise (null included). */
export function asNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'bigint') return Number(value);
  const text = asText(value)?.trim();
  if (text === undefined || !/^-?\d+(\.\d+)?$/.test(text)) return undefined;
  return Number(text);
}

const TRUE = new Set(['1', 'on', 'yes', 'true']);
const FALSE = new Set(['0', 'off', 'no', 'false']);

/** A server boolean (`1`/`0`, `'ON'`/`'OFF'`, ...); undefined when it is none of them. */
export function asBoolean(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number' || typeof value === 'bigint') {
    if (value === 1 || value === 1n) return true;
    if (value === 0 || value === 0n) return false;
    return undefined;
  }
  const text = asText(value)?.trim().toLowerCase();
  if (text === undefined) return undefined;
  if (TRUE.has(text)) return true;
  if (FALSE.has(text)) return false;
  return undefined;
}

/** The value of the first of `names` that the row has (`Replica_IO_Running` before `Slave_IO_Running`). */
export function column(row: Row, ...names: string[]): unknown {
  for (const name of names) {
    if (Object.hasOwn(row, name)) return row[name];
  }
  return undefined;
}

export function hasColumn(row: Row, ...names: string[]): boolean {
  return names.some((name) => Object.hasOwn(row, name));
}
