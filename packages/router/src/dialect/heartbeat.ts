import { failed, parsed } from '../consistency/parse-result.js';
import { InvalidArgumentError } from '../errors.js';
import type { HeartbeatStatements, HeartbeatTable } from './dialect.js';
import { asNumber, rowsOf } from './row-values.js';

// Plain identifiers only: quoting them in backticks is then safe without escaping.
const IDENTIFIER = /^[A-Za-z0-9_$]{1,64}$/;
const MAX_INT = 2_147_483_647;

/**
 * The heartbeat statements, the same on MariaDB and MySQL: `TIMESTAMP(6)`, `NOW(6)`, `TIMESTAMPDIFF` and
 * `ON DUPLICATE KEY UPDATE` mean the same on both.
 */
export function heartbeatStatements(target: HeartbeatTable): HeartbeatStatements {
  const table = `${quoteIdentifier(target.schema, 'schema')}.${quoteIdentifier(target.table, 'table')}`;
  return Object.freeze({
    sessionSetup: statement("SET SESSION time_zone = '+00:00'"),
    createTable: statement(
      `CREATE TABLE IF NOT EXISTS ${table} (id INT PRIMARY KEY, ts TIMESTAMP(6) NOT NULL)`,
    ),
    upsert(writerId: number) {
      if (!Number.isInteger(writerId) || writerId < -MAX_INT - 1 || writerId > MAX_INT) {
        throw new InvalidArgumentError(`Heartbeat writer id must be an INT, got ${String(writerId)}`);
      }
      return statement(
        `INSERT INTO ${table} (id, ts) VALUES (?, NOW(6)) ON DUPLICATE KEY UPDATE ts = NOW(6)`,
        [writerId],
      );
    },
    lag: Object.freeze({
      sql: `SELECT TIMESTAMPDIFF(MICROSECOND, MAX(ts), NOW(6)) AS lag_us FROM ${table}`,
      values: Object.freeze([]),
      parse(result: unknown) {
        const row = rowsOf(result)?.[0];
        if (row === undefined) return failed<number | null>('heartbeat lag query returned no row');
        if (row.lag_us === null) return parsed(null);
        const micros = asNumber(row.lag_us);
        if (micros === undefined) return failed(`heartbeat lag is not a number: ${String(row.lag_us)}`);
        return parsed(Math.max(0, micros / 1000));
      },
    }),
  });
}

/** `` `name` `` for a plain identifier; throws `InvalidArgumentError` for anything else. */
export function quoteIdentifier(name: string, what: string): string {
  if (typeof name !== 'string' || !IDENTIFIER.test(name)) {
    throw new InvalidArgumentError(
      `Heartbeat ${what} name ${JSON.stringify(name)} is not a plain identifier (letters, digits, _ and $; 1 to 64 characters)`,
    );
  }
  return `\`${name}\``;
}

function statement(sql: string, values: readonly unknown[] = []) {
  return Object.freeze({ sql, values: Object.freeze([...values]) });
}
