import { describe, expect, it } from 'vitest';
import { detectDialect, parseServerVersion } from '../src/dialect/dialect.js';
import { heartbeatStatements, quoteIdentifier } from '../src/dialect/heartbeat.js';
import { parseReplicaStatus } from '../src/dialect/replica-status.js';
import { asBoolean, asNumber, rowsOf } from '../src/dialect/row-values.js';
import { InvalidArgumentError } from '../src/errors.js';
import {
  MARIADB_REPLICA_DELAYED,
  MARIADB_REPLICA_PRIMARY_DOWN,
  MARIADB_REPLICA_RUNNING,
  MARIADB_REPLICA_STOPPED,
  MYSQL_57_SLAVE_RUNNING,
  MYSQL_REPLICA_RUNNING,
  MYSQL_REPLICA_SQL_ERROR,
} from './dialect-fixtures.js';

describe('detectDialect', () => {
  it.each([
    ['10.11.19-MariaDB-0+deb12u1-log', 'mariadb'],
    ['5.5.5-10.11.6-MariaDB', 'mariadb'],
    ['11.4.2-MariaDB-ubu2404', 'mariadb'],
    ['8.0.36', 'mysql'],
    ['8.4.2-log', 'mysql'],
    ['8.0.36-28', 'mysql'],
    ['5.7.44-log', 'mysql'],
  ])('takes %j for %s', (version, flavor) => {
    expect(detectDialect(version).flavor).toBe(flavor);
  });

  it("reads MariaDB's version past the 5.5.5- handshake prefix", () => {
    expect(parseServerVersion('5.5.5-10.11.6-MariaDB')).toEqual({
      flavor: 'mariadb',
      major: 10,
      minor: 11,
      patch: 6,
    });
    expect(parseServerVersion('8.0.22')).toEqual({ flavor: 'mysql', major: 8, minor: 0, patch: 22 });
    expect(parseServerVersion('8.4')).toEqual({ flavor: 'mysql', major: 8, minor: 4, patch: 0 });
    expect(parseServerVersion('garbage')).toEqual({ flavor: 'mysql', major: 0, minor: 0, patch: 0 });
  });

  it('uses SHOW REPLICA STATUS from MySQL 8.0.22 and SHOW SLAVE STATUS before it and on MariaDB', () => {
    expect(detectDialect('8.0.22').replicaStatus.sql).toBe('SHOW REPLICA STATUS');
    expect(detectDialect('8.4.0').replicaStatus.sql).toBe('SHOW REPLICA STATUS');
    expect(detectDialect('8.0.21').replicaStatus.sql).toBe('SHOW SLAVE STATUS');
    expect(detectDialect('5.7.44').replicaStatus.sql).toBe('SHOW SLAVE STATUS');
    expect(detectDialect('10.11.6-MariaDB').replicaStatus.sql).toBe('SHOW SLAVE STATUS');
  });
});

describe('replica status', () => {
  it('reads a replicating MariaDB replica', () => {
    expect(parseReplicaStatus([MARIADB_REPLICA_RUNNING])).toEqual({
      ok: true,
      value: {
        ioRunning: true,
        sqlRunning: true,
        secondsBehind: 0,
        sourceHost: '127.185.76.21',
        sourcePort: 3306,
        lastError: '',
        ioState: 'Yes',
        ioErrno: 0,
        sqlErrno: 0,
        receivedGtids: '0-1-15',
      },
    });
  });

  it('reads a stopped replica: both threads off, lag unknown', () => {
    expect(parseReplicaStatus([MARIADB_REPLICA_STOPPED])).toMatchObject({
      ok: true,
      value: { ioRunning: false, sqlRunning: false, secondsBehind: null },
    });
  });

  it('counts Connecting as not running and reports the IO error', () => {
    const state = parseReplicaStatus([MARIADB_REPLICA_PRIMARY_DOWN]);
    expect(state).toMatchObject({
      ok: true,
      value: { ioRunning: false, sqlRunning: true, secondsBehind: null },
    });
    expect(state.ok && state.value?.lastError).toMatch(/Connection refused/);
    expect(state).toMatchObject({ value: { ioState: 'Connecting', ioErrno: 2003 } });
  });

  it('reads a delayed replica as running and behind', () => {
    expect(parseReplicaStatus([MARIADB_REPLICA_DELAYED])).toMatchObject({
      ok: true,
      value: { ioRunning: true, sqlRunning: true, secondsBehind: 2 },
    });
  });

  it('reads MySQL 8 (new column names) and MySQL 5.7 (old ones) alike', () => {
    expect(parseReplicaStatus([MYSQL_REPLICA_RUNNING])).toEqual({
      ok: true,
      value: {
        ioRunning: true,
        sqlRunning: true,
        secondsBehind: 0,
        sourceHost: '10.0.0.21',
        sourcePort: 3306,
        lastError: '',
        ioState: 'Yes',
        ioErrno: 0,
        sqlErrno: 0,
        receivedGtids: '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-42',
      },
    });
    expect(parseReplicaStatus([MYSQL_57_SLAVE_RUNNING])).toMatchObject({
      ok: true,
      value: { secondsBehind: 3 },
    });
  });

  it('reports an applier error', () => {
    const state = parseReplicaStatus([MYSQL_REPLICA_SQL_ERROR]);
    expect(state).toMatchObject({
      ok: true,
      value: { ioRunning: true, sqlRunning: false, secondsBehind: null },
    });
    expect(state.ok && state.value?.lastError).toMatch(/^Coordinator stopped/);
  });

  it('joins IO and SQL errors when both threads failed', () => {
    const row = { ...MYSQL_REPLICA_SQL_ERROR, Last_IO_Error: 'io broke' };
    expect(parseReplicaStatus([row])).toMatchObject({
      ok: true,
      value: { lastError: expect.stringMatching(/^io broke; Coordinator/) },
    });
  });

  it('says undefined for a node that does not replicate (no row)', () => {
    expect(parseReplicaStatus([])).toEqual({ ok: true, value: undefined });
  });

  it('reads the default channel when there are several', () => {
    const other = { ...MYSQL_REPLICA_RUNNING, Channel_Name: 'analytics', Source_Host: 'other' };
    expect(parseReplicaStatus([other, MYSQL_REPLICA_RUNNING])).toMatchObject({
      ok: true,
      value: { sourceHost: '10.0.0.21' },
    });
    expect(parseReplicaStatus([other])).toMatchObject({ ok: true, value: { sourceHost: 'other' } });
  });

  it('accepts numbers as strings (bigNumberStrings) and fails on rows it cannot read', () => {
    expect(
      parseReplicaStatus([{ ...MYSQL_REPLICA_RUNNING, Seconds_Behind_Source: '12', Source_Port: '3307' }]),
    ).toMatchObject({
      ok: true,
      value: { secondsBehind: 12, sourcePort: 3307 },
    });
    expect(parseReplicaStatus([{ Slave_IO_Running: 'Yes' }])).toMatchObject({
      ok: false,
      error: expect.stringMatching(/lacks/),
    });
    expect(parseReplicaStatus([{ ...MYSQL_REPLICA_RUNNING, Seconds_Behind_Source: 'soon' }]).ok).toBe(false);
    expect(parseReplicaStatus({ affectedRows: 0 }).ok).toBe(false);
    expect(parseReplicaStatus([[1, 2]]).ok).toBe(false);
  });
});

describe('heartbeat statements', () => {
  const heartbeat = heartbeatStatements({ schema: 'app', table: 'rwsplit_heartbeat' });

  it('creates, upserts and reads a quoted table', () => {
    expect(heartbeat.createTable.sql).toBe(
      'CREATE TABLE IF NOT EXISTS `app`.`rwsplit_heartbeat` (id INT PRIMARY KEY, ts TIMESTAMP(6) NOT NULL)',
    );
    expect(heartbeat.upsert(3)).toEqual({
      sql: 'INSERT INTO `app`.`rwsplit_heartbeat` (id, ts) VALUES (?, NOW(6)) ON DUPLICATE KEY UPDATE ts = NOW(6)',
      values: [3],
    });
    expect(heartbeat.lag.sql).toBe(
      'SELECT TIMESTAMPDIFF(MICROSECOND, MAX(ts), NOW(6)) AS lag_us FROM `app`.`rwsplit_heartbeat`',
    );
    expect(heartbeat.sessionSetup.sql).toBe("SET SESSION time_zone = '+00:00'");
  });

  it('reads the lag in milliseconds, null before the first heartbeat, never negative', () => {
    expect(heartbeat.lag.parse([{ lag_us: 1500 }])).toEqual({ ok: true, value: 1.5 });
    expect(heartbeat.lag.parse([{ lag_us: '2500000' }])).toEqual({ ok: true, value: 2500 });
    expect(heartbeat.lag.parse([{ lag_us: 7n }])).toEqual({ ok: true, value: 0.007 });
    expect(heartbeat.lag.parse([{ lag_us: null }])).toEqual({ ok: true, value: null });
    expect(heartbeat.lag.parse([{ lag_us: -40 }])).toEqual({ ok: true, value: 0 });
    expect(heartbeat.lag.parse([]).ok).toBe(false);
    expect(heartbeat.lag.parse([{ lag_us: 'x' }]).ok).toBe(false);
  });

  it.each(['', 'a`b', 'a b', 'a.b', "x'; DROP TABLE t; --", 'é', 'x'.repeat(65)])(
    'refuses %j as an identifier',
    (name) => {
      expect(() => heartbeatStatements({ schema: name, table: 't' })).toThrow(InvalidArgumentError);
      expect(() => heartbeatStatements({ schema: 's', table: name })).toThrow(/not a plain identifier/);
    },
  );

  it('accepts plain identifiers up to 64 characters', () => {
    expect(quoteIdentifier('$x_1', 'table')).toBe('`$x_1`');
    expect(quoteIdentifier('x'.repeat(64), 'table')).toHaveLength(66);
  });

  it('refuses writer ids outside INT', () => {
    expect(() => heartbeat.upsert(1.5)).toThrow(InvalidArgumentError);
    expect(() => heartbeat.upsert(2 ** 31)).toThrow(/INT/);
    expect(heartbeat.upsert(-(2 ** 31)).values).toEqual([-(2 ** 31)]);
  });
});

describe('row values', () => {
  it('reads booleans the ways servers and mysql2 options spell them', () => {
    expect([1, 1n, '1', 'ON', 'on', 'YES', true].map(asBoolean)).toEqual(Array(7).fill(true));
    expect([0, 0n, '0', 'OFF', 'no', false].map(asBoolean)).toEqual(Array(6).fill(false));
    expect([2, null, undefined, 'maybe', {}].map(asBoolean)).toEqual(Array(5).fill(undefined));
  });

  it('reads numbers from numbers, bigints, numeric strings and buffers only', () => {
    expect([3, 3n, '3', ' 3 ', Buffer.from('3'), '-1.5'].map(asNumber)).toEqual([3, 3, 3, 3, 3, -1.5]);
    expect([null, undefined, '', '3e2', 'x', Number.NaN, Infinity].map(asNumber)).toEqual(
      Array(7).fill(undefined),
    );
  });

  it('accepts only arrays of row objects as rows', () => {
    expect(rowsOf([{ a: 1 }])).toEqual([{ a: 1 }]);
    expect(rowsOf({ affectedRows: 1 })).toBeUndefined();
    expect(rowsOf([null])).toBeUndefined();
  });
});
