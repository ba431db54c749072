import { parseServerVersion } from '@rwsplit/router/replication';
import { describe, expect, it } from 'vitest';
import type { History } from '../src/dialect/failover-dialect.js';
import { MySqlFailoverDialect } from '../src/dialect/mysql-failover.js';
import { FailoverError } from '../src/errors.js';

/** The failed primary, and two replicas (each server names its own GTIDs with its `server_uuid`). */
const A = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const B = '4f22ab58-82db-22f2-af44-d91bb5530673';

const mysql = (version: string) => new MySqlFailoverDialect(parseServerVersion(version));
const dialect = mysql('8.0.36');

const variable = (name: string) =>
  `(SELECT VARIABLE_VALUE FROM performance_schema.global_variables WHERE VARIABLE_NAME = '${name}')`;
const status = (name: string) =>
  `(SELECT VARIABLE_VALUE FROM performance_schema.global_status WHERE VARIABLE_NAME = '${name}')`;

/** 8.0.22-8.0.25: the master/slave plugins' names only. */
const FACTS_8_0_25 =
  'SELECT @@GLOBAL.server_id AS server_id, @@GLOBAL.server_uuid AS server_uuid, @@GLOBAL.gtid_executed AS executed,' +
  ` ${variable('rpl_semi_sync_master_enabled')} AS source_enabled,` +
  ` ${variable('rpl_semi_sync_slave_enabled')} AS replica_enabled,` +
  ` ${status('Rpl_semi_sync_master_status')} AS source_status,` +
  ` ${status('Rpl_semi_sync_master_clients')} AS clients,` +
  ` ${status('Rpl_semi_sync_master_yes_tx')} AS yes_tx,` +
  ` ${status('Rpl_semi_sync_master_no_tx')} AS no_tx`;

/** 8.0.26+: the source/replica plugins' names, else the old plugins' (they can still be installed). */
const FACTS_8_0_26 =
  'SELECT @@GLOBAL.server_id AS server_id, @@GLOBAL.server_uuid AS server_uuid, @@GLOBAL.gtid_executed AS executed,' +
  ` COALESCE(${variable('rpl_semi_sync_source_enabled')}, ${variable('rpl_semi_sync_master_enabled')}) AS source_enabled,` +
  ` COALESCE(${variable('rpl_semi_sync_replica_enabled')}, ${variable('rpl_semi_sync_slave_enabled')}) AS replica_enabled,` +
  ` COALESCE(${status('Rpl_semi_sync_source_status')}, ${status('Rpl_semi_sync_master_status')}) AS source_status,` +
  ` COALESCE(${status('Rpl_semi_sync_source_clients')}, ${status('Rpl_semi_sync_master_clients')}) AS clients,` +
  ` COALESCE(${status('Rpl_semi_sync_source_yes_tx')}, ${status('Rpl_semi_sync_master_yes_tx')}) AS yes_tx,` +
  ` COALESCE(${status('Rpl_semi_sync_source_no_tx')}, ${status('Rpl_semi_sync_master_no_tx')}) AS no_tx`;

/**
 * mysql2's rows for the facts query on a MySQL 8.0.36 primary with both semi-sync plugins: `@@` values
 * typed (server_id a number), performance_schema's VARIABLE_VALUE a VARCHAR, so every counter a string;
 * the server breaks a long gtid_executed after its commas.
 */
const PRIMARY_ROW = {
  server_id: 1,
  server_uuid: A,
  executed: `${A}:1-42,\n${B}:1-3`,
  source_enabled: 'ON',
  replica_enabled: 'ON',
  source_status: 'ON',
  clients: '2',
  yes_tx: '1187',
  no_tx: '4',
};

/** A replica without the plugins: the subqueries find no row, so every semi-sync column is NULL. */
const NO_PLUGIN_ROW = {
  server_id: 2,
  server_uuid: B,
  executed: `${A}:1-42,\n${B}:1-3`,
  source_enabled: null,
  replica_enabled: null,
  source_status: null,
  clients: null,
  yes_tx: null,
  no_tx: null,
};

function history(executed: string, received = executed): History {
  return { flavor: 'mysql', executed, received };
}

describe('MySqlFailoverDialect: construction', () => {
  it('is the mysql flavour over the router MySQL dialect for the same version', () => {
    expect(dialect.flavor).toBe('mysql');
    expect(dialect.router.flavor).toBe('mysql');
    expect(dialect.router.replicaStatus.sql).toBe('SHOW REPLICA STATUS');
  });

  it('has no rebuild: a MySQL node is copied with the CLONE plugin', () => {
    expect(dialect.rebuild).toBeUndefined();
  });

  it('refuses servers before 8.0.22, which lack STOP/START/RESET REPLICA', () => {
    expect(() => mysql('8.0.21')).toThrow(FailoverError);
    expect(() => mysql('5.7.44-log')).toThrow(/upgrade the nodes to MySQL 8\.0\.22/);
    try {
      mysql('8.0.21');
    } catch (error) {
      expect(error).toMatchObject({ code: 'FAILOVER_UNSUPPORTED' });
    }
    expect(() => mysql('8.0.22')).not.toThrow();
    expect(() => mysql('8.4.3')).not.toThrow();
  });
});

describe('MySqlFailoverDialect: facts', () => {
  it('reads plugin variables from performance_schema, so a missing plugin is NULL and not an error', () => {
    expect(dialect.facts.sql).toBe(FACTS_8_0_26);
    expect(dialect.facts.values).toEqual([]);
    expect(dialect.facts.sql).not.toMatch(/@@GLOBAL\.rpl_semi/i);
  });

  it('asks 8.0.22-8.0.25 for the master/slave plugin names', () => {
    expect(mysql('8.0.25').facts.sql).toBe(FACTS_8_0_25);
    expect(mysql('8.0.26').facts.sql).toBe(FACTS_8_0_26);
  });

  it('reads a semi-sync primary with replicas connected as active, counters from strings', () => {
    expect(dialect.facts.parse([PRIMARY_ROW])).toEqual({
      ok: true,
      value: {
        serverId: 1,
        serverUuid: A,
        executed: `${A}:1-42,${B}:1-3`,
        semiSync: {
          sourceEnabled: true,
          active: true,
          clients: 2,
          yesTx: 1187,
          noTx: 4,
          replicaEnabled: true,
        },
      },
    });
  });

  it('reads semi-sync as off on a node without the plugins', () => {
    expect(dialect.facts.parse([NO_PLUGIN_ROW])).toEqual({
      ok: true,
      value: {
        serverId: 2,
        serverUuid: B,
        executed: `${A}:1-42,${B}:1-3`,
        semiSync: {
          sourceEnabled: false,
          active: false,
          clients: 0,
          yesTx: 0,
          noTx: 0,
          replicaEnabled: false,
        },
      },
    });
  });

  it('is not active with the status ON but no replica connected', () => {
    const parsed = dialect.facts.parse([{ ...PRIMARY_ROW, clients: '0' }]);
    expect(parsed.ok && parsed.value.semiSync).toMatchObject({
      sourceEnabled: true,
      active: false,
      clients: 0,
    });
  });

  it('is not active after the fall-back to asynchronous replication (status OFF)', () => {
    const parsed = dialect.facts.parse([{ ...PRIMARY_ROW, source_status: 'OFF', no_tx: '9' }]);
    expect(parsed.ok && parsed.value.semiSync).toMatchObject({ active: false, clients: 2, noTx: 9 });
  });

  it('is not active when only the replica side is on', () => {
    const parsed = dialect.facts.parse([{ ...PRIMARY_ROW, source_enabled: 'OFF' }]);
    expect(parsed.ok && parsed.value.semiSync).toMatchObject({ sourceEnabled: false, active: false });
  });

  it('reads the empty set of a fresh server, and an upper-case UUID in lower case', () => {
    const parsed = dialect.facts.parse([{ ...NO_PLUGIN_ROW, server_uuid: B.toUpperCase(), executed: '' }]);
    expect(parsed.ok && parsed.value).toMatchObject({ serverUuid: B, executed: '' });
  });

  it('fails on rows it cannot read, saying what was wrong', () => {
    expect(dialect.facts.parse([])).toEqual({ ok: false, error: 'no row for the node facts' });
    expect(dialect.facts.parse([{ ...PRIMARY_ROW, server_id: null }])).toEqual({
      ok: false,
      error: 'server_id is not a number: null',
    });
    expect(dialect.facts.parse([{ ...PRIMARY_ROW, server_uuid: '' }])).toEqual({
      ok: false,
      error: 'server_uuid is not a UUID: ',
    });
    expect(dialect.facts.parse([{ ...PRIMARY_ROW, executed: '0-1-15' }])).toEqual({
      ok: false,
      error: 'gtid_executed is not a GTID set: 0-1-15',
    });
  });
});

describe('MySqlFailoverDialect: histories', () => {
  it("adds the replica's Retrieved_Gtid_Set to what it executed", () => {
    expect(dialect.history(`${A}:1-40,\n${B}:1-3`, `${A}:1-42`)).toEqual({
      flavor: 'mysql',
      executed: `${A}:1-40,\n${B}:1-3`,
      received: `${A}:1-42,${B}:1-3`,
    });
    expect(dialect.history(`${A}:1-40`, '').received).toBe(`${A}:1-40`);
  });

  describe('errant', () => {
    // A wrote 1-45 and died; B received 1-44 and has a local write of its own; C received 1-43.
    const replicaB = history(`${A}:1-44,${B}:1`);
    const replicaC = history(`${A}:1-40`, `${A}:1-43`);
    const failedPrimary = { id: 1, uuid: A };

    it("finds a replica's local write that no other node has", () => {
      expect(dialect.errant(replicaB, [replicaC], failedPrimary)).toBe(`${B}:1`);
    });

    it("does not count the failed primary's further transactions as errant", () => {
      expect(dialect.errant(replicaC, [replicaB], failedPrimary)).toBe('');
      expect(dialect.errant(history(`${A}:1-45`), [replicaB, replicaC], failedPrimary)).toBe('');
      // The UUID as a user might type it.
      expect(dialect.errant(replicaB, [replicaC], { id: 1, uuid: A.toUpperCase() })).toBe(`${B}:1`);
    });

    it('counts them when the failed primary is not left out', () => {
      expect(dialect.errant(replicaB, [replicaC], { id: 99, uuid: '' })).toBe(`${A}:44,${B}:1`);
    });

    it("compares with the others' received sets, not only what they applied", () => {
      const behind = history(`${A}:1-10,${B}:1`, `${A}:1-44,${B}:1`);
      expect(dialect.errant(replicaB, [behind], { id: 99, uuid: '' })).toBe('');
    });

    it('leaves out the failed primary under every 8.4 tag of its UUID', () => {
      const tagged = history(`${A}:1-44:audit:1-2,${B}:1`);
      expect(dialect.errant(tagged, [replicaC], failedPrimary)).toBe(`${B}:1`);
    });
  });

  describe('missing', () => {
    it("is '' when the reference has everything", () => {
      expect(dialect.missing(`${A}:1-42`, `${A}:1-45,\n${B}:1-3`)).toBe('');
      expect(dialect.missing('', `${A}:1-45`)).toBe('');
    });

    it('names what the reference lacks, like GTID_SUBTRACT', () => {
      expect(dialect.missing(`${A}:1-45,${B}:1-3`, `${A}:1-42:44`)).toBe(`${A}:43:45,${B}:1-3`);
    });
  });

  describe('compare', () => {
    it("is > 0 when a's received set strictly contains b's, < 0 the other way", () => {
      const ahead = history(`${A}:1-40`, `${A}:1-44`);
      const behind = history(`${A}:1-42`, `${A}:1-43`);
      expect(dialect.compare(ahead, behind)).toBeGreaterThan(0);
      expect(dialect.compare(behind, ahead)).toBeLessThan(0);
    });

    it('breaks a tie between equal received sets by what was executed', () => {
      const applied = history(`${A}:1-44`, `${A}:1-44`);
      const applying = history(`${A}:1-40`, `${A}:1-44`);
      expect(dialect.compare(applied, applying)).toBeGreaterThan(0);
      expect(dialect.compare(applying, applied)).toBeLessThan(0);
    });

    it('is 0 for equal histories', () => {
      expect(dialect.compare(history(`${A}:1-44`), history(`${A}:1-44`))).toBe(0);
    });

    it('is 0 for crossed received sets, whatever was executed', () => {
      const withLocal = history(`${A}:1-43,${B}:1`, `${A}:1-43,${B}:1`);
      const further = history(`${A}:1-43`, `${A}:1-44`);
      expect(dialect.compare(withLocal, further)).toBe(0);
      expect(dialect.compare(further, withLocal)).toBe(0);
    });

    it('is 0 for equal received sets with crossed executed sets', () => {
      const one = history(`${A}:1-40:42`, `${A}:1-44`);
      const other = history(`${A}:1-41`, `${A}:1-44`);
      expect(dialect.compare(one, other)).toBe(0);
    });
  });
});

describe('MySqlFailoverDialect: statements', () => {
  it('fences with super_read_only (which implies read_only) and unfences both', () => {
    expect(dialect.fence).toEqual([{ sql: 'SET GLOBAL super_read_only = ON', values: [] }]);
    expect(dialect.unfence).toEqual([
      { sql: 'SET GLOBAL super_read_only = OFF', values: [] },
      { sql: 'SET GLOBAL read_only = OFF', values: [] },
    ]);
  });

  it('stops receiving, starts applying and forgets the source with the REPLICA statements', () => {
    expect(dialect.stopReceiving).toEqual([{ sql: 'STOP REPLICA IO_THREAD', values: [] }]);
    expect(dialect.startReceiving).toEqual([{ sql: 'START REPLICA IO_THREAD', values: [] }]);
    expect(dialect.startApplying).toEqual([{ sql: 'START REPLICA SQL_THREAD', values: [] }]);
    expect(dialect.forgetSource).toEqual([
      { sql: 'STOP REPLICA', values: [] },
      { sql: 'RESET REPLICA ALL', values: [] },
    ]);
  });

  it('takes the leader lock without waiting and reads 1 as taken', () => {
    const lock = dialect.takeLock('rwsplit_failover');
    expect(lock.sql).toBe('SELECT GET_LOCK(?, 0) AS taken');
    expect(lock.values).toEqual(['rwsplit_failover']);
    expect(lock.parse([{ taken: 1 }])).toEqual({ ok: true, value: true });
    expect(lock.parse([{ taken: 0 }])).toEqual({ ok: true, value: false });
    expect(lock.parse([{ taken: null }])).toEqual({ ok: true, value: false });
  });

  it('bounds the session by wait_timeout in whole seconds, at least 1', () => {
    expect(dialect.sessionLease(2.2)).toEqual({ sql: 'SET SESSION wait_timeout = ?', values: [3] });
    expect(dialect.sessionLease(0)).toEqual({ sql: 'SET SESSION wait_timeout = ?', values: [1] });
  });
});

describe('MySqlFailoverDialect: waitApplied', () => {
  const relayed = history(`${A}:1-40`, `${A}:1-44,\n${B}:1-3`);

  it('waits for the received set with WAIT_FOR_EXECUTED_GTID_SET, in seconds', () => {
    const wait = dialect.waitApplied(relayed, 2_500);
    expect(wait.sql).toBe('SELECT WAIT_FOR_EXECUTED_GTID_SET(?, ?) AS waited');
    expect(wait.values).toEqual([`${A}:1-44,${B}:1-3`, 2.5]);
  });

  it('reads 0 as applied and 1 as timeout, from numbers or strings', () => {
    const wait = dialect.waitApplied(relayed, 2_500);
    expect(wait.parse([{ waited: 0 }])).toEqual({ ok: true, value: 'applied' });
    expect(wait.parse([{ waited: 1 }])).toEqual({ ok: true, value: 'timeout' });
    expect(wait.parse([{ waited: '0' }])).toEqual({ ok: true, value: 'applied' });
  });

  it('fails on NULL and anything else', () => {
    const wait = dialect.waitApplied(relayed, 2_500);
    expect(wait.parse([{ waited: null }]).ok).toBe(false);
    expect(wait.parse([{ waited: 2 }]).ok).toBe(false);
    expect(wait.parse([]).ok).toBe(false);
  });

  it('never sends a timeout of 0, which would wait forever', () => {
    expect(dialect.waitApplied(relayed, 0.2).values[1]).toBe(0.001);
    const check = dialect.waitApplied(relayed, 0);
    expect(check.sql).toBe('SELECT GTID_SUBSET(?, @@GLOBAL.gtid_executed) AS waited');
    expect(check.parse([{ waited: 1 }])).toEqual({ ok: true, value: 'applied' });
    expect(check.parse([{ waited: 0 }])).toEqual({ ok: true, value: 'timeout' });
  });

  it('never reads an unreadable received set as applied', () => {
    const wait = dialect.waitApplied(history('0-1-15'), 1_000);
    expect(wait.parse([{ waited: 0 }]).ok).toBe(false);
  });
});

describe('MySqlFailoverDialect: follow', () => {
  const source = { host: '10.0.0.22', port: 3306, user: 'repl', password: "s3cr'et" };

  it('points the replica at the source by auto-position, the password only as a value', () => {
    const statements = dialect.follow(source, { heartbeatMs: 500, formerPrimary: false });
    expect(statements).toEqual([
      { sql: 'STOP REPLICA', values: [] },
      {
        sql: 'CHANGE REPLICATION SOURCE TO SOURCE_HOST = ?, SOURCE_PORT = ?, SOURCE_USER = ?, SOURCE_PASSWORD = ?, SOURCE_AUTO_POSITION = 1, SOURCE_CONNECT_RETRY = 1, SOURCE_HEARTBEAT_PERIOD = ?, SOURCE_SSL = 0, GET_SOURCE_PUBLIC_KEY = 1',
        values: ['10.0.0.22', 3306, 'repl', "s3cr'et", 0.5],
      },
      { sql: 'START REPLICA', values: [] },
    ]);
    for (const { sql } of statements) expect(sql).not.toContain('s3cr');
  });

  it('replicates over TLS, verifying the source against the CA file, when given one', () => {
    const tls = { ...source, caFile: '/etc/rwsplit/ca.crt' };
    const [, change] = dialect.follow(tls, { heartbeatMs: 500, formerPrimary: false });
    expect(change?.sql).toContain(
      'SOURCE_SSL = 1, SOURCE_SSL_CA = ?, SOURCE_SSL_VERIFY_SERVER_CERT = 1, GET_SOURCE_PUBLIC_KEY = 1',
    );
    expect(change?.values).toEqual(['10.0.0.22', 3306, 'repl', "s3cr'et", 0.5, '/etc/rwsplit/ca.crt']);
    const [, old] = mysql('8.0.22').follow(tls, { heartbeatMs: 500, formerPrimary: false });
    expect(old?.sql).toContain('MASTER_SSL = 1, MASTER_SSL_CA = ?, MASTER_SSL_VERIFY_SERVER_CERT = 1');
  });

  it('needs nothing extra for a former primary: gtid_executed already has its writes', () => {
    expect(dialect.follow(source, { heartbeatMs: 500, formerPrimary: true })).toEqual(
      dialect.follow(source, { heartbeatMs: 500, formerPrimary: false }),
    );
  });

  it('uses CHANGE MASTER TO on 8.0.22, which predates CHANGE REPLICATION SOURCE TO', () => {
    const [, change] = mysql('8.0.22').follow(source, { heartbeatMs: 1_000, formerPrimary: false });
    expect(change).toEqual({
      sql: 'CHANGE MASTER TO MASTER_HOST = ?, MASTER_PORT = ?, MASTER_USER = ?, MASTER_PASSWORD = ?, MASTER_AUTO_POSITION = 1, MASTER_CONNECT_RETRY = 1, MASTER_HEARTBEAT_PERIOD = ?, MASTER_SSL = 0, GET_MASTER_PUBLIC_KEY = 1',
      values: ['10.0.0.22', 3306, 'repl', "s3cr'et", 1],
    });
    expect(mysql('8.0.23').follow(source, { heartbeatMs: 1_000, formerPrimary: false })[1]?.sql).toMatch(
      /^CHANGE REPLICATION SOURCE TO /,
    );
  });
});

describe('MySqlFailoverDialect: semiSync', () => {
  it('uses the source/replica variable names from 8.0.26', () => {
    expect(mysql('8.0.26').semiSync({ enabled: true, timeoutMs: 1_000 })).toEqual([
      {
        sql: 'SET GLOBAL rpl_semi_sync_source_enabled = ON, GLOBAL rpl_semi_sync_replica_enabled = ON, GLOBAL rpl_semi_sync_source_wait_point = AFTER_SYNC, GLOBAL rpl_semi_sync_source_timeout = ?',
        values: [1_000],
      },
    ]);
  });

  it('uses the master/slave names on 8.0.25', () => {
    expect(mysql('8.0.25').semiSync({ enabled: true, timeoutMs: 1_000 })).toEqual([
      {
        sql: 'SET GLOBAL rpl_semi_sync_master_enabled = ON, GLOBAL rpl_semi_sync_slave_enabled = ON, GLOBAL rpl_semi_sync_master_wait_point = AFTER_SYNC, GLOBAL rpl_semi_sync_master_timeout = ?',
        values: [1_000],
      },
    ]);
  });

  it('switches both sides off, and sends the timeout as a whole number of ms', () => {
    expect(dialect.semiSync({ enabled: false, timeoutMs: 250.4 })).toEqual([
      {
        sql: 'SET GLOBAL rpl_semi_sync_source_enabled = OFF, GLOBAL rpl_semi_sync_replica_enabled = OFF, GLOBAL rpl_semi_sync_source_wait_point = AFTER_SYNC, GLOBAL rpl_semi_sync_source_timeout = ?',
        values: [250],
      },
    ]);
  });
});
