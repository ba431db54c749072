import { describe, expect, it } from 'vitest';
import type { History } from '../src/dialect/failover-dialect.js';
import { MariaDbFailoverDialect } from '../src/dialect/mariadb-failover.js';

const dialect = new MariaDbFailoverDialect();

/**
 * mysql2's row for the facts query on a MariaDB 10.11 primary with one semi-sync replica connected:
 * `@@GLOBAL` booleans come back as integers, server_id as a number (supportBigNumbers keeps it exact),
 * information_schema.GLOBAL_STATUS's VARIABLE_VALUE is a VARCHAR, so every status is a string.
 */
const PRIMARY_ROW = {
  server_id: 1,
  executed: '0-1-133322,0-4-133325',
  source_enabled: 1,
  replica_enabled: 1,
  source_status: 'ON',
  clients: '1',
  yes_tx: '5023',
  no_tx: '2',
};

function history(executed: string, received = executed): History {
  return { flavor: 'mariadb', executed, received };
}

describe('MariaDbFailoverDialect: construction', () => {
  it('is the mariadb flavour over the router MariaDB dialect', () => {
    expect(dialect.flavor).toBe('mariadb');
    expect(dialect.router.flavor).toBe('mariadb');
    expect(dialect.router.replicaStatus.sql).toBe('SHOW SLAVE STATUS');
  });
});

describe('MariaDbFailoverDialect: facts', () => {
  it('reads the semi-sync status counters from information_schema.GLOBAL_STATUS in one query', () => {
    const { sql, values } = dialect.facts;
    expect(values).toEqual([]);
    expect(sql).toMatch(/^SELECT @@GLOBAL\.server_id AS server_id, @@GLOBAL\.gtid_binlog_state AS executed,/);
    expect(sql).toContain('@@GLOBAL.rpl_semi_sync_master_enabled AS source_enabled');
    expect(sql).toContain('@@GLOBAL.rpl_semi_sync_slave_enabled AS replica_enabled');
    for (const [status, alias] of [
      ['RPL_SEMI_SYNC_MASTER_STATUS', 'source_status'],
      ['RPL_SEMI_SYNC_MASTER_CLIENTS', 'clients'],
      ['RPL_SEMI_SYNC_MASTER_YES_TX', 'yes_tx'],
      ['RPL_SEMI_SYNC_MASTER_NO_TX', 'no_tx'],
    ]) {
      expect(sql).toContain(
        `(SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = '${status}') AS ${alias}`,
      );
    }
  });

  it('reads a semi-sync primary with a replica connected as active, counters from strings', () => {
    expect(dialect.facts.parse([PRIMARY_ROW])).toEqual({
      ok: true,
      value: {
        serverId: 1,
        serverUuid: '',
        executed: '0-1-133322,0-4-133325',
        semiSync: {
          sourceEnabled: true,
          active: true,
          clients: 1,
          yesTx: 5023,
          noTx: 2,
          replicaEnabled: true,
        },
      },
    });
  });

  it('reads server_id as a string too (bigNumberStrings)', () => {
    const parsed = dialect.facts.parse([{ ...PRIMARY_ROW, server_id: '4' }]);
    expect(parsed.ok && parsed.value.serverId).toBe(4);
  });

  it('is not active with the status ON but no replica connected (commits wait for nobody)', () => {
    const parsed = dialect.facts.parse([{ ...PRIMARY_ROW, clients: '0' }]);
    expect(parsed.ok && parsed.value.semiSync).toMatchObject({
      sourceEnabled: true,
      active: false,
      clients: 0,
    });
  });

  it('is not active after the fall-back to asynchronous replication (status OFF)', () => {
    const parsed = dialect.facts.parse([{ ...PRIMARY_ROW, source_status: 'OFF', no_tx: '17' }]);
    expect(parsed.ok && parsed.value.semiSync).toMatchObject({ active: false, clients: 1, noTx: 17 });
  });

  it('is not active on a replica, where only the slave side is on', () => {
    const replica = {
      server_id: 4,
      executed: '0-1-133322,0-4-133325',
      source_enabled: 0,
      replica_enabled: 1,
      source_status: 'OFF',
      clients: '0',
      yes_tx: '0',
      no_tx: '0',
    };
    const parsed = dialect.facts.parse([replica]);
    expect(parsed.ok && parsed.value.semiSync).toEqual({
      sourceEnabled: false,
      active: false,
      clients: 0,
      yesTx: 0,
      noTx: 0,
      replicaEnabled: true,
    });
  });

  it('reads the empty binlog state of a fresh server', () => {
    const parsed = dialect.facts.parse([{ ...PRIMARY_ROW, executed: '' }]);
    expect(parsed.ok && parsed.value.executed).toBe('');
  });

  it('fails on rows it cannot read, saying what was wrong', () => {
    expect(dialect.facts.parse([])).toEqual({ ok: false, error: 'no row for the node facts' });
    expect(dialect.facts.parse([{ ...PRIMARY_ROW, server_id: null }])).toEqual({
      ok: false,
      error: 'server_id is not a number: null',
    });
    // A MySQL gtid_executed is no MariaDB binlog state.
    const mysqlSet = '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-42';
    expect(dialect.facts.parse([{ ...PRIMARY_ROW, executed: mysqlSet }])).toEqual({
      ok: false,
      error: `gtid_binlog_state is not a GTID list: ${mysqlSet}`,
    });
  });
});

describe('MariaDbFailoverDialect: histories', () => {
  it("adds the replica's Gtid_IO_Pos to its binlog state", () => {
    expect(dialect.history('0-1-110', '0-1-120')).toEqual({
      flavor: 'mariadb',
      executed: '0-1-110',
      received: '0-1-120',
    });
    // After a failover the binlog state keeps the old primary's last GTID beside the new one's.
    expect(dialect.history('0-1-100,0-2-140', '0-2-150').received).toBe('0-1-100,0-2-150');
    // A primary (no replica status): received is what it executed.
    expect(dialect.history('0-1-133322,0-4-133325', '').received).toBe('0-1-133322,0-4-133325');
  });

  describe('errant', () => {
    // db-1 (server 1) wrote up to 0-1-120 and died; db-2 received all of it; db-3 (server 3) got 118
    // and then took a local write 0-3-119 that nobody else has.
    const replica2 = history('0-1-115', '0-1-120');
    const replica3 = history('0-1-118,0-3-119');
    const failedPrimary = { id: 1, uuid: '' };

    it("finds a replica's own write that no other node has", () => {
      expect(dialect.errant(replica3, [replica2], failedPrimary)).toBe('0-3-119');
    });

    it("does not count the failed primary's further transactions as errant", () => {
      expect(dialect.errant(history('0-1-120'), [replica3], failedPrimary)).toBe('');
    });

    it('counts them when the failed primary is not left out', () => {
      expect(dialect.errant(history('0-1-120'), [replica3], { id: 99, uuid: '' })).toBe('0-1-120');
    });

    it("compares with the others' received histories, not only what they applied", () => {
      const applying = history('0-1-110,0-3-119', '0-1-120,0-3-119');
      expect(dialect.errant(replica3, [applying], { id: 99, uuid: '' })).toBe('');
      expect(
        dialect.errant(replica3, [history('0-1-110,0-3-119', '0-1-110,0-3-119')], { id: 99, uuid: '' }),
      ).toBe('0-1-118');
    });
  });

  describe('missing', () => {
    it("is '' when the reference has everything (a lagging node may follow it)", () => {
      expect(dialect.missing('0-1-133322', '0-1-133322,0-4-133325')).toBe('');
      expect(dialect.missing('0-1-40', '0-1-42')).toBe('');
      expect(dialect.missing('', '0-1-42')).toBe('');
    });

    it('names the transactions of a diverged old primary that the new one never got', () => {
      // The old primary committed 133323-133324 that never replicated; the new one (server 4) went on.
      expect(dialect.missing('0-1-133324', '0-1-133322,0-4-133325')).toBe('0-1-133324');
    });

    it('names a (domain, server id) pair the reference has never seen', () => {
      expect(dialect.missing('0-1-42,1-7-3', '0-1-42')).toBe('1-7-3');
    });
  });

  describe('compare', () => {
    it('puts a replica that received more ahead of one that applied more', () => {
      const received = history('0-1-110', '0-1-120');
      const applied = history('0-1-118');
      expect(dialect.compare(received, applied)).toBeGreaterThan(0);
      expect(dialect.compare(applied, received)).toBeLessThan(0);
    });

    it('breaks a tie between equal received histories by what was applied', () => {
      const done = history('0-1-120', '0-1-120');
      const applying = history('0-1-110', '0-1-120');
      expect(dialect.compare(done, applying)).toBeGreaterThan(0);
      expect(dialect.compare(applying, done)).toBeLessThan(0);
    });

    it('orders a domain by seq whichever server wrote it', () => {
      expect(dialect.compare(history('0-1-100,0-2-150'), history('0-1-100,0-2-149'))).toBeGreaterThan(0);
      expect(dialect.compare(history('0-1-100,0-2-101'), history('0-1-100'))).toBeGreaterThan(0);
    });

    it('is 0 for equal and for crossed histories', () => {
      expect(dialect.compare(history('0-1-120'), history('0-1-120'))).toBe(0);
      expect(dialect.compare(history('0-1-120,1-2-4'), history('0-1-119,1-2-5'))).toBe(0);
    });
  });
});

describe('MariaDbFailoverDialect: waitApplied', () => {
  it('waits with MASTER_GTID_WAIT for the highest received seq per domain, in seconds', () => {
    const wait = dialect.waitApplied(history('0-1-133322', '0-1-133322,0-4-133325'), 2_500);
    expect(wait.sql).toBe('SELECT MASTER_GTID_WAIT(?, ?) AS waited');
    expect(wait.values).toEqual(['0-4-133325', 2.5]);
    expect(
      dialect.waitApplied(history('0-1-100,0-2-150,1-3-7', '0-1-100,0-2-152,1-3-7'), 10_000).values,
    ).toEqual(['0-2-152,1-3-7', 10]);
  });

  it('never sends a negative timeout, which MariaDB reads as waiting forever', () => {
    expect(dialect.waitApplied(history('0-1-1'), -5).values[1]).toBe(0);
    expect(dialect.waitApplied(history('0-1-1'), 0).values[1]).toBe(0);
  });

  it('reads 0 as applied and -1 as timeout, from numbers or strings', () => {
    const wait = dialect.waitApplied(history('0-1-120'), 1_000);
    expect(wait.parse([{ waited: 0 }])).toEqual({ ok: true, value: 'applied' });
    expect(wait.parse([{ waited: -1 }])).toEqual({ ok: true, value: 'timeout' });
    expect(wait.parse([{ waited: '0' }])).toEqual({ ok: true, value: 'applied' });
    expect(wait.parse([{ waited: '-1' }])).toEqual({ ok: true, value: 'timeout' });
  });

  it('fails on NULL (the wait itself failed) and anything else', () => {
    const wait = dialect.waitApplied(history('0-1-120'), 1_000);
    expect(wait.parse([{ waited: null }])).toEqual({ ok: false, error: 'MASTER_GTID_WAIT returned null' });
    expect(wait.parse([{ waited: 1 }]).ok).toBe(false);
    expect(wait.parse([]).ok).toBe(false);
  });
});

describe('MariaDbFailoverDialect: follow', () => {
  const source = { host: '10.0.0.22', port: 3306, user: 'repl', password: "s3cr'et" };

  it('points the replica at the source by GTID (slave_pos), the password only as a value', () => {
    const statements = dialect.follow(source, { heartbeatMs: 500, formerPrimary: false });
    expect(statements).toEqual([
      { sql: 'STOP SLAVE', values: [] },
      {
        sql: 'CHANGE MASTER TO MASTER_HOST = ?, MASTER_PORT = ?, MASTER_USER = ?, MASTER_PASSWORD = ?, MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1, MASTER_HEARTBEAT_PERIOD = ?, MASTER_SSL = 0',
        values: ['10.0.0.22', 3306, 'repl', "s3cr'et", 0.5],
      },
      { sql: 'START SLAVE', values: [] },
    ]);
    for (const { sql } of statements) expect(sql).not.toContain('s3cr');
  });

  it('replicates over TLS, verifying the source against the CA file, when given one', () => {
    const [, change] = dialect.follow(
      { ...source, caFile: '/etc/rwsplit/ca.crt' },
      { heartbeatMs: 500, formerPrimary: false },
    );
    expect(change).toEqual({
      sql: 'CHANGE MASTER TO MASTER_HOST = ?, MASTER_PORT = ?, MASTER_USER = ?, MASTER_PASSWORD = ?, MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1, MASTER_HEARTBEAT_PERIOD = ?, MASTER_SSL = 1, MASTER_SSL_CA = ?, MASTER_SSL_VERIFY_SERVER_CERT = 1',
      values: ['10.0.0.22', 3306, 'repl', "s3cr'et", 0.5, '/etc/rwsplit/ca.crt'],
    });
  });

  it('starts a former primary after its own writes, which are only in its binlog', () => {
    const statements = dialect.follow(source, { heartbeatMs: 1_000, formerPrimary: true });
    expect(statements.map((s) => s.sql)).toEqual([
      'STOP SLAVE',
      'SET GLOBAL gtid_slave_pos = @@GLOBAL.gtid_binlog_pos',
      expect.stringMatching(/^CHANGE MASTER TO .*MASTER_USE_GTID = slave_pos/),
      'START SLAVE',
    ]);
    expect(statements[2]?.values).toEqual(['10.0.0.22', 3306, 'repl', "s3cr'et", 1]);
    for (const { sql } of statements) expect(sql).not.toContain('s3cr');
  });
});

describe('MariaDbFailoverDialect: statements', () => {
  it('fences with read_only (MariaDB has no super_read_only)', () => {
    expect(dialect.fence).toEqual([{ sql: 'SET GLOBAL read_only = ON', values: [] }]);
    expect(dialect.unfence).toEqual([{ sql: 'SET GLOBAL read_only = OFF', values: [] }]);
  });

  it('stops receiving, starts applying and forgets the source with the SLAVE statements', () => {
    expect(dialect.stopReceiving).toEqual([{ sql: 'STOP SLAVE IO_THREAD', values: [] }]);
    expect(dialect.startReceiving).toEqual([{ sql: 'START SLAVE IO_THREAD', values: [] }]);
    expect(dialect.startApplying).toEqual([{ sql: 'START SLAVE SQL_THREAD', values: [] }]);
    expect(dialect.forgetSource).toEqual([
      { sql: 'STOP SLAVE', values: [] },
      { sql: 'RESET SLAVE ALL', values: [] },
    ]);
  });

  it('switches semi-sync on both sides, waiting after sync, the timeout as a value', () => {
    expect(dialect.semiSync({ enabled: true, timeoutMs: 1_000 })).toEqual([
      {
        sql: 'SET GLOBAL rpl_semi_sync_master_enabled = ON, GLOBAL rpl_semi_sync_slave_enabled = ON, GLOBAL rpl_semi_sync_master_wait_point = AFTER_SYNC, GLOBAL rpl_semi_sync_master_timeout = ?',
        values: [1_000],
      },
    ]);
    expect(dialect.semiSync({ enabled: false, timeoutMs: 250 })).toEqual([
      {
        sql: 'SET GLOBAL rpl_semi_sync_master_enabled = OFF, GLOBAL rpl_semi_sync_slave_enabled = OFF, GLOBAL rpl_semi_sync_master_wait_point = AFTER_SYNC, GLOBAL rpl_semi_sync_master_timeout = ?',
        values: [250],
      },
    ]);
  });

  it('takes the leader lock without waiting and reads 1 as taken', () => {
    const lock = dialect.takeLock('rwsplit_failover_leader');
    expect(lock.sql).toBe('SELECT GET_LOCK(?, 0) AS taken');
    expect(lock.values).toEqual(['rwsplit_failover_leader']);
    expect(lock.parse([{ taken: 1 }])).toEqual({ ok: true, value: true });
    expect(lock.parse([{ taken: 0 }])).toEqual({ ok: true, value: false });
    expect(lock.parse([{ taken: null }])).toEqual({ ok: true, value: false });
  });

  it('bounds the session by wait_timeout in whole seconds, at least 1', () => {
    expect(dialect.sessionLease(2)).toEqual({ sql: 'SET SESSION wait_timeout = ?', values: [2] });
    expect(dialect.sessionLease(2.2)).toEqual({ sql: 'SET SESSION wait_timeout = ?', values: [3] });
    expect(dialect.sessionLease(0)).toEqual({ sql: 'SET SESSION wait_timeout = ?', values: [1] });
  });

  it('rebuilds with a consistent dump carrying its GTID, loaded outside the binlog', () => {
    const rebuild = dialect.rebuild!;
    expect(rebuild.dumpArgs).toEqual(
      expect.arrayContaining(['--single-transaction', '--gtid', '--master-data=1', '--flush-privileges']),
    );
    expect(rebuild.beforeLoad.map((s) => s.sql)).toEqual(['STOP SLAVE', 'RESET SLAVE ALL', 'RESET MASTER']);
    expect(rebuild.loadInitCommand).toBe('SET SESSION sql_log_bin = 0');
  });
});
