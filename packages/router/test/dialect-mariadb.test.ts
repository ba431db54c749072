import { describe, expect, it } from 'vitest';
import { formatPosition, type GtidPosition, parsePosition } from '../src/consistency/position.js';
import { MariaDbDialect } from '../src/dialect/mariadb-dialect.js';
import { MARIADB_INSERT_RESULT, MARIADB_REPLICA_RUNNING } from './dialect-fixtures.js';

const dialect = new MariaDbDialect();

function position(flavor: 'mariadb' | 'mysql', text: string): GtidPosition {
  const result = parsePosition(flavor, text);
  if (!result.ok) throw new Error(result.error);
  return result.value;
}

function text(result: { ok: true; value: GtidPosition } | { ok: false; error: string }): string {
  if (!result.ok) throw new Error(result.error);
  return formatPosition(result.value);
}

describe('MariaDbDialect: role and replica status', () => {
  it('discovers the role from @@read_only', () => {
    expect(dialect.role.sql).toBe('SELECT @@GLOBAL.read_only AS read_only');
    expect(dialect.role.parse([{ read_only: 1 }])).toEqual({ ok: true, value: { readOnly: true } });
    expect(dialect.role.parse([{ read_only: 0 }])).toEqual({ ok: true, value: { readOnly: false } });
    expect(dialect.role.parse([{ read_only: 'OFF' }])).toEqual({ ok: true, value: { readOnly: false } });
  });

  it('counts a read-only mode spelled as a word as read-only', () => {
    expect(dialect.role.parse([{ read_only: 'NO_LOCK_NO_ADMIN' }])).toEqual({
      ok: true,
      value: { readOnly: true },
    });
  });

  it('fails, without throwing, on results it cannot read', () => {
    expect(dialect.role.parse([])).toMatchObject({ ok: false, error: expect.stringMatching(/no row/) });
    expect(dialect.role.parse([{ read_only: null }]).ok).toBe(false);
    expect(dialect.role.parse([{ read_only: 7 }]).ok).toBe(false);
    expect(dialect.role.parse({ affectedRows: 0 }).ok).toBe(false);
    expect(dialect.role.parse(undefined).ok).toBe(false);
  });

  it('reads replica status with SHOW SLAVE STATUS', () => {
    expect(dialect.replicaStatus.sql).toBe('SHOW SLAVE STATUS');
    expect(dialect.replicaStatus.parse([MARIADB_REPLICA_RUNNING])).toMatchObject({
      ok: true,
      value: { ioRunning: true },
    });
    expect(dialect.replicaStatus.parse([])).toEqual({ ok: true, value: undefined });
  });
});

describe('MariaDbDialect: positions', () => {
  it('reads the applied position as the per-domain max of the slave and binlog positions', () => {
    const probe = dialect.appliedPosition;
    expect(probe.sql).toBe(
      'SELECT @@GLOBAL.gtid_slave_pos AS gtid_slave_pos, @@GLOBAL.gtid_binlog_pos AS gtid_binlog_pos',
    );
    // A replica with log_slave_updates: both the same.
    expect(text(probe.parse([{ gtid_slave_pos: '0-1-15', gtid_binlog_pos: '0-1-15' }]))).toBe('0-1-15');
    // A primary promoted after a failover: replicated up to 0-1-15, then its own writes.
    expect(text(probe.parse([{ gtid_slave_pos: '0-1-15', gtid_binlog_pos: '0-2-20' }]))).toBe('0-2-20');
    // A replica without log_slave_updates, and one with a second domain.
    expect(text(probe.parse([{ gtid_slave_pos: '0-1-15,1-5-3', gtid_binlog_pos: '' }]))).toBe('0-1-15,1-5-3');
    expect(text(probe.parse([{ gtid_slave_pos: null, gtid_binlog_pos: '0-1-2' }]))).toBe('0-1-2');
  });

  it('fails on positions it cannot parse', () => {
    expect(dialect.appliedPosition.parse([{ gtid_slave_pos: 'nonsense', gtid_binlog_pos: '' }]).ok).toBe(
      false,
    );
    expect(dialect.appliedPosition.parse([{ gtid_slave_pos: '', gtid_binlog_pos: 3 }]).ok).toBe(false);
  });

  it('parses its own GTID text', () => {
    expect(dialect.parsePosition('0-1-1')).toEqual({ ok: true, value: position('mariadb', '0-1-1') });
    expect(dialect.parsePosition('x').ok).toBe(false);
  });
});

describe('MariaDbDialect: commit GTIDs', () => {
  it('adds last_gtid to the tracked variables, keeping the others and leaving * alone', () => {
    expect(dialect.enableGtidTracking).toEqual({
      sql: "SET SESSION session_track_system_variables = IF(@@SESSION.session_track_system_variables = '*', '*', CONCAT_WS(',', NULLIF(@@SESSION.session_track_system_variables, ''), 'last_gtid'))",
      values: [],
    });
  });

  it("reads the commit GTID from mysql2's stateChanges.systemVariables.last_gtid", () => {
    expect(dialect.commitPosition(MARIADB_INSERT_RESULT)).toEqual(position('mariadb', '0-1-12'));
  });

  it('finds nothing in results without a tracked GTID', () => {
    const { stateChanges: _, ...plain } = MARIADB_INSERT_RESULT;
    expect(dialect.commitPosition(plain)).toBeUndefined();
    expect(
      dialect.commitPosition({
        ...plain,
        stateChanges: { systemVariables: { autocommit: 'ON' }, gtids: [] },
      }),
    ).toBeUndefined();
    expect(
      dialect.commitPosition({ ...plain, stateChanges: { systemVariables: { last_gtid: '' } } }),
    ).toBeUndefined();
    expect(
      dialect.commitPosition({ ...plain, stateChanges: { systemVariables: { last_gtid: 'junk' } } }),
    ).toBeUndefined();
    expect(dialect.commitPosition({ ...plain, stateChanges: null })).toBeUndefined();
    expect(dialect.commitPosition([{ id: 1 }])).toBeUndefined();
    expect(dialect.commitPosition(null)).toBeUndefined();
  });

  it('falls back to @@SESSION.last_gtid on the same connection', () => {
    expect(dialect.lastCommitPosition.sql).toBe('SELECT @@SESSION.last_gtid AS last_gtid');
    expect(dialect.lastCommitPosition.parse([{ last_gtid: '0-1-16' }])).toEqual({
      ok: true,
      value: position('mariadb', '0-1-16'),
    });
    expect(text(dialect.lastCommitPosition.parse([{ last_gtid: '' }]))).toBe('');
  });
});

describe('MariaDbDialect: waiting for a position', () => {
  it('waits with MASTER_GTID_WAIT and a timeout in seconds', () => {
    const wait = dialect.waitForPosition(position('mariadb', '0-1-42,1-3-7'), 50);
    expect(wait).toMatchObject({
      sql: 'SELECT MASTER_GTID_WAIT(?, ?) AS waited',
      values: ['0-1-42,1-3-7', 0.05],
    });
  });

  it('reads 0 as reached and -1 as timed out', () => {
    const wait = dialect.waitForPosition(position('mariadb', '0-1-42'), 50)!;
    expect(wait.parse([{ waited: 0 }])).toEqual({ ok: true, value: 'reached' });
    expect(wait.parse([{ waited: -1 }])).toEqual({ ok: true, value: 'timeout' });
    expect(wait.parse([{ waited: '-1' }])).toEqual({ ok: true, value: 'timeout' });
    expect(wait.parse([{ waited: null }]).ok).toBe(false);
    expect(wait.parse([]).ok).toBe(false);
  });

  it('never sends a negative or NaN timeout, which would wait forever', () => {
    for (const budget of [0, -5, Number.NaN, Number.NEGATIVE_INFINITY]) {
      expect(dialect.waitForPosition(position('mariadb', '0-1-1'), budget)?.values[1]).toBe(0);
    }
  });

  it('offers no wait for a MySQL position (read from the primary)', () => {
    expect(
      dialect.waitForPosition(position('mysql', '3e11fa47-71ca-11e1-9e33-c80aa9429562:1'), 50),
    ).toBeUndefined();
  });

  it('builds the heartbeat statements', () => {
    expect(dialect.heartbeat({ schema: 'app', table: 'hb' }).createTable.sql).toContain('`app`.`hb`');
  });
});
