import { describe, expect, it } from 'vitest';
import { formatPosition, type GtidPosition, parsePosition } from '../src/consistency/position.js';
import { detectDialect } from '../src/dialect/dialect.js';
import { MySqlDialect } from '../src/dialect/mysql-dialect.js';
import { MYSQL_INSERT_RESULT, MYSQL_REPLICA_RUNNING } from './dialect-fixtures.js';

const A = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const B = '4f22ab58-82db-22f2-af44-d91bb5530673';
const dialect = detectDialect('8.0.36');

function position(flavor: 'mariadb' | 'mysql', text: string): GtidPosition {
  const result = parsePosition(flavor, text);
  if (!result.ok) throw new Error(result.error);
  return result.value;
}

describe('MySqlDialect: role and replica status', () => {
  it('is read-only when read_only or super_read_only is on', () => {
    expect(dialect.role.sql).toBe(
      'SELECT @@GLOBAL.read_only AS read_only, @@GLOBAL.super_read_only AS super_read_only',
    );
    expect(dialect.role.parse([{ read_only: 0, super_read_only: 0 }])).toEqual({
      ok: true,
      value: { readOnly: false },
    });
    expect(dialect.role.parse([{ read_only: 1, super_read_only: 0 }])).toEqual({
      ok: true,
      value: { readOnly: true },
    });
    expect(dialect.role.parse([{ read_only: 1, super_read_only: 1 }])).toEqual({
      ok: true,
      value: { readOnly: true },
    });
    expect(dialect.role.parse([{ read_only: 0 }]).ok).toBe(false);
  });

  it('reads SHOW REPLICA STATUS rows', () => {
    expect(dialect.replicaStatus.parse([MYSQL_REPLICA_RUNNING])).toMatchObject({
      ok: true,
      value: { ioRunning: true, sqlRunning: true, sourceHost: '10.0.0.21' },
    });
  });

  it('defaults to a current MySQL when built without a version', () => {
    expect(new MySqlDialect().replicaStatus.sql).toBe('SHOW REPLICA STATUS');
  });
});

describe('MySqlDialect: positions', () => {
  it('reads the applied position from gtid_executed, newlines and all', () => {
    expect(dialect.appliedPosition.sql).toBe('SELECT @@GLOBAL.gtid_executed AS gtid_executed');
    const parsed = dialect.appliedPosition.parse([{ gtid_executed: `${A}:1-42,\n${B}:1-7` }]);
    expect(parsed.ok && formatPosition(parsed.value)).toBe(`${A}:1-42,${B}:1-7`);
    expect(dialect.appliedPosition.parse([{ gtid_executed: '0-1-1' }]).ok).toBe(false);
  });

  it('parses its own GTID text', () => {
    expect(dialect.parsePosition(`${A}:5`)).toEqual({ ok: true, value: position('mysql', `${A}:5`) });
  });
});

describe('MySqlDialect: commit GTIDs', () => {
  it('enables OWN_GTID tracking', () => {
    expect(dialect.enableGtidTracking).toEqual({
      sql: "SET SESSION session_track_gtids = 'OWN_GTID'",
      values: [],
    });
  });

  it("reads the commit GTID from mysql2's stateChanges.gtids", () => {
    expect(dialect.commitPosition(MYSQL_INSERT_RESULT)).toEqual(position('mysql', `${A}:43`));
  });

  it('joins what mysql2 split at commas back into one set', () => {
    const result = {
      ...MYSQL_INSERT_RESULT,
      stateChanges: { ...MYSQL_INSERT_RESULT.stateChanges, gtids: [`${A}:43`, `\n${B}:2`] },
    };
    expect(dialect.commitPosition(result)).toEqual(position('mysql', `${A}:43,${B}:2`));
  });

  it('finds nothing when no GTID was tracked', () => {
    const empty = {
      ...MYSQL_INSERT_RESULT,
      stateChanges: { ...MYSQL_INSERT_RESULT.stateChanges, gtids: [] },
    };
    expect(dialect.commitPosition(empty)).toBeUndefined();
    expect(dialect.commitPosition({ ...empty, stateChanges: { gtids: [''] } })).toBeUndefined();
    expect(dialect.commitPosition({ ...empty, stateChanges: { gtids: ['garbage'] } })).toBeUndefined();
    expect(dialect.commitPosition({ ...empty, stateChanges: { gtids: [42] } })).toBeUndefined();
    expect(dialect.commitPosition({ affectedRows: 1 })).toBeUndefined();
  });

  it('falls back to all of gtid_executed: a superset of the commit, so safe', () => {
    expect(dialect.lastCommitPosition.sql).toBe('SELECT @@GLOBAL.gtid_executed AS gtid_executed');
  });
});

describe('MySqlDialect: waiting for a position', () => {
  it('waits with WAIT_FOR_EXECUTED_GTID_SET and fractional seconds on 8.0.22+', () => {
    const wait = dialect.waitForPosition(position('mysql', `${A}:43`), 50)!;
    expect(wait).toMatchObject({
      sql: 'SELECT WAIT_FOR_EXECUTED_GTID_SET(?, ?) AS waited',
      values: [`${A}:43`, 0.05],
    });
    expect(wait.parse([{ waited: 0 }])).toEqual({ ok: true, value: 'reached' });
    expect(wait.parse([{ waited: 1 }])).toEqual({ ok: true, value: 'timeout' });
    expect(wait.parse([{ waited: null }]).ok).toBe(false);
  });

  it('never sends 0 (which waits forever): a tiny budget becomes 1 ms', () => {
    expect(dialect.waitForPosition(position('mysql', `${A}:43`), 0.2)?.values[1]).toBe(0.001);
  });

  it('rounds up to whole seconds on servers that truncate the timeout', () => {
    const old = detectDialect('5.7.44-log');
    expect(old.waitForPosition(position('mysql', `${A}:43`), 50)?.values[1]).toBe(1);
    expect(old.waitForPosition(position('mysql', `${A}:43`), 1500)?.values[1]).toBe(2);
  });

  it('only checks, with GTID_SUBSET, when the budget is 0 or less', () => {
    for (const budget of [0, -1, Number.NaN]) {
      const check = dialect.waitForPosition(position('mysql', `${A}:43`), budget)!;
      expect(check).toMatchObject({
        sql: 'SELECT GTID_SUBSET(?, @@GLOBAL.gtid_executed) AS waited',
        values: [`${A}:43`],
      });
      expect(check.parse([{ waited: 1 }])).toEqual({ ok: true, value: 'reached' });
      expect(check.parse([{ waited: 0 }])).toEqual({ ok: true, value: 'timeout' });
    }
  });

  it('offers no wait for a MariaDB position', () => {
    expect(dialect.waitForPosition(position('mariadb', '0-1-1'), 50)).toBeUndefined();
  });
});
