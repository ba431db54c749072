import { parseServerVersion } from '@rwsplit/router/replication';
import { describe, expect, it } from 'vitest';
import { MYSQL_REPLICA_RUNNING } from '../../router/test/dialect-fixtures.js';
import { replicaVerdict, upkeep } from '../src/decide.js';
import type { FailoverDialect } from '../src/dialect/failover-dialect.js';
import { MariaDbFailoverDialect } from '../src/dialect/mariadb-failover.js';
import { MySqlFailoverDialect } from '../src/dialect/mysql-failover.js';
import type { NodeObservation, ReachableNode, UnreachableNode } from '../src/observation.js';
import { StoppedReceivers } from '../src/stopped-receivers.js';

/**
 * The replica's testimony across the manager's own `STOP SLAVE IO_THREAD`, on status rows as the servers
 * print them. The MariaDB rows were captured from MariaDB 10.11.19 in the netns lab
 * (`test/netns/failover-partition.test.ts`): the primary cut off by dropped packets, the replica's IO
 * thread giving up its read after `slave_net_timeout` (2 s), then stopped by the manager while it was
 * still in its reconnection attempt. The MySQL rows follow MySQL 8.0.22+ `SHOW REPLICA STATUS`.
 */

const PRIMARY = { name: 'db-primary', host: '198.19.198.21', port: 3306 };
const REPLICA = 'db-replica-1';
const OTHER = { host: '198.19.198.22', port: 3306 };

/** MariaDB 10.11 `SHOW SLAVE STATUS`, streaming from the primary over TLS. */
const MARIADB_STREAMING = {
  Slave_IO_State: 'Waiting for master to send event',
  Master_Host: '198.19.198.21',
  Master_User: 'rwsplit_repl',
  Master_Port: 3306,
  Connect_Retry: 1,
  Master_Log_File: 'mariadb-bin.000001',
  Read_Master_Log_Pos: 18521,
  Relay_Log_File: 'relay-bin.000002',
  Relay_Log_Pos: 18822,
  Relay_Master_Log_File: 'mariadb-bin.000001',
  Slave_IO_Running: 'Yes',
  Slave_SQL_Running: 'Yes',
  Replicate_Do_DB: '',
  Replicate_Ignore_DB: '',
  Replicate_Do_Table: '',
  Replicate_Ignore_Table: '',
  Replicate_Wild_Do_Table: '',
  Replicate_Wild_Ignore_Table: '',
  Last_Errno: 0,
  Last_Error: '',
  Skip_Counter: 0,
  Exec_Master_Log_Pos: 18521,
  Relay_Log_Space: 19125,
  Until_Condition: 'None',
  Until_Log_File: '',
  Until_Log_Pos: 0,
  Master_SSL_Allowed: 'Yes',
  Master_SSL_CA_File: '/etc/rwsplit/ca.crt',
  Master_SSL_CA_Path: '',
  Master_SSL_Cert: '',
  Master_SSL_Cipher: '',
  Master_SSL_Key: '',
  Seconds_Behind_Master: 0,
  Master_SSL_Verify_Server_Cert: 'Yes',
  Last_IO_Errno: 0,
  Last_IO_Error: '',
  Last_SQL_Errno: 0,
  Last_SQL_Error: '',
  Replicate_Ignore_Server_Ids: '',
  Master_Server_Id: 1,
  Master_SSL_Crl: '',
  Master_SSL_Crlpath: '',
  Using_Gtid: 'Slave_Pos',
  Gtid_IO_Pos: '0-1-60',
  Replicate_Do_Domain_Ids: '',
  Replicate_Ignore_Domain_Ids: '',
  Parallel_Mode: 'conservative',
  SQL_Delay: 0,
  SQL_Remaining_Delay: null,
  Slave_SQL_Running_State: 'Slave has read all relay log; waiting for more updates',
  Slave_DDL_Groups: 25,
  Slave_Non_Transactional_Groups: 0,
  Slave_Transactional_Groups: 35,
  Replicate_Rewrite_DB: '',
};

/** 1.9 s after the cut: the read timed out, the IO thread is in its first reconnection attempt. */
const MARIADB_RECONNECTING = {
  ...MARIADB_STREAMING,
  Slave_IO_State: 'Reconnecting after a failed master event read',
  Slave_IO_Running: 'Connecting',
  Seconds_Behind_Master: null,
};

/** After the manager's `STOP SLAVE IO_THREAD` completed: no error, the applier still running. */
const MARIADB_STOPPED = {
  ...MARIADB_STREAMING,
  Slave_IO_State: '',
  Slave_IO_Running: 'No',
  Seconds_Behind_Master: null,
};

/** The same `STOP SLAVE IO_THREAD` after the first attempt failed: the error stays until START SLAVE. */
const MARIADB_STOPPED_AFTER_2003 = {
  ...MARIADB_STOPPED,
  Last_IO_Errno: 2003,
  Last_IO_Error:
    "error reconnecting to master 'rwsplit_repl@198.19.198.21:3306' - retry-time: 1  maximum-retries: 100000  message: Can't connect to server on '198.19.198.21' (110 \"Connection timed out\")",
};

/** Back on a primary that had lost the replica's position from its binlog: it reached the source. */
const MARIADB_REFUSED_1236 = {
  ...MARIADB_STOPPED,
  Last_IO_Errno: 1236,
  Last_IO_Error:
    "Got fatal error 1236 from master when reading data from binary log: 'Error: connecting slave requested to start from GTID 0-1-61, which is not in the master's binlog'",
};

/**
 * MySQL 8.0.22+ `SHOW REPLICA STATUS`, streaming: the router's fixture row (every column MySQL prints),
 * replicating from this test's primary over TLS as the harness sets replication up.
 */
const MYSQL_STREAMING = {
  ...MYSQL_REPLICA_RUNNING,
  Source_Host: PRIMARY.host,
  Source_User: 'rwsplit_repl',
  Connect_Retry: 1,
  Source_SSL_Allowed: 'Yes',
  Source_SSL_CA_File: '/etc/rwsplit/ca.crt',
  Source_SSL_Verify_Server_Cert: 'Yes',
  Retrieved_Gtid_Set: '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-60',
  Executed_Gtid_Set: '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-60',
};

const MYSQL_RECONNECTING = {
  ...MYSQL_STREAMING,
  Replica_IO_State: 'Reconnecting after a failed source event read',
  Replica_IO_Running: 'Connecting',
  Seconds_Behind_Source: null,
};

const MYSQL_STOPPED = {
  ...MYSQL_STREAMING,
  Replica_IO_State: '',
  Replica_IO_Running: 'No',
  Seconds_Behind_Source: null,
};

const mariadb = new MariaDbFailoverDialect();
const mysql = new MySqlFailoverDialect(parseServerVersion('8.0.36'));

/** The replica as the manager observes it, from one `SHOW SLAVE STATUS` / `SHOW REPLICA STATUS` row. */
function replicaWith(dialect: FailoverDialect, row: Record<string, unknown> | undefined): ReachableNode {
  const status = dialect.router.replicaStatus.parse(row === undefined ? [] : [row]);
  if (!status.ok) throw new Error(status.error);
  const executed = dialect.flavor === 'mariadb' ? '0-1-60' : '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-60';
  return {
    name: REPLICA,
    reachable: true,
    readOnly: true,
    replica: status.value,
    facts: {
      serverId: 2,
      serverUuid: '',
      executed,
      semiSync: {
        sourceEnabled: true,
        active: false,
        clients: 0,
        yesTx: 0,
        noTx: 0,
        replicaEnabled: true,
      },
    },
    history: dialect.history(executed, status.value?.receivedGtids ?? ''),
  };
}

const primaryCutOff: UnreachableNode = {
  name: PRIMARY.name,
  reachable: false,
  error: `${PRIMARY.name} (${PRIMARY.host}:3306) cannot be reached: connect ETIMEDOUT`,
  errorCode: 'ETIMEDOUT',
};

/** The replicas' verdict on the cut-off primary, with what `stops` remembers. */
function verdictOn(replica: NodeObservation, stops: StoppedReceivers) {
  return replicaVerdict([primaryCutOff, replica], PRIMARY, new Set(), stops.testifying(PRIMARY));
}

describe.each([
  {
    flavor: 'MariaDB 10.11',
    dialect: mariadb as FailoverDialect,
    rows: { streaming: MARIADB_STREAMING, reconnecting: MARIADB_RECONNECTING, stopped: MARIADB_STOPPED },
  },
  {
    flavor: 'MySQL 8.0',
    dialect: mysql as FailoverDialect,
    rows: { streaming: MYSQL_STREAMING, reconnecting: MYSQL_RECONNECTING, stopped: MYSQL_STOPPED },
  },
])('a replica of a primary cut off silently ($flavor)', ({ dialect, rows }) => {
  /** The manager's view through the failover: each status seen, the stop asked at `stopAt`. */
  function replay(seen: readonly (Record<string, unknown> | undefined)[], stopAt: number, testifies = true) {
    const stops = new StoppedReceivers();
    let last: ReachableNode | undefined;
    seen.forEach((row, index) => {
      last = replicaWith(dialect, row);
      stops.observed(last);
      if (index === stopAt) stops.asked(REPLICA, PRIMARY, testifies, 1_000);
    });
    return { stops, last: last! };
  }

  it('lost it once its IO thread reconnects, before any error: its read timed out', () => {
    const { stops, last } = replay([rows.streaming, rows.reconnecting], -1);
    expect(verdictOn(last, stops)).toMatchObject({ agree: true, lost: [REPLICA] });
  });

  it('still vouches once the manager stopped its IO thread, with no error left on it', () => {
    const { stops, last } = replay([rows.streaming, rows.reconnecting, rows.stopped], 1);
    expect(last.replica).toMatchObject({ ioRunning: false, ioState: 'No', ioErrno: 0, sqlRunning: true });
    expect(verdictOn(last, stops)).toEqual({
      agree: true,
      lost: [REPLICA],
      stillConnected: [],
      cannotTell: [],
      reason: `its replicas lost it too (${REPLICA})`,
    });
  });

  it('cannot tell when its IO thread was stopped by someone else: the same status, no stop of the manager', () => {
    const { stops, last } = replay([rows.streaming, rows.reconnecting, rows.stopped], -1);
    expect(verdictOn(last, stops)).toMatchObject({ agree: false, lost: [], cannotTell: [REPLICA] });
  });

  it('cannot tell when the manager stopped it while it had not lost the primary', () => {
    const { stops, last } = replay([rows.stopped, rows.stopped], 0, false);
    expect(verdictOn(last, stops)).toMatchObject({ agree: false, cannotTell: [REPLICA] });
  });

  it('does not vouch while it still receives from the primary, even with a stop asked', () => {
    const { stops, last } = replay([rows.reconnecting, rows.streaming], 0);
    expect(verdictOn(last, stops)).toEqual({
      agree: false,
      lost: [],
      stillConnected: [REPLICA],
      cannotTell: [],
      reason: `${REPLICA} still replicate from it`,
    });
  });

  it('loses its testimony once seen receiving after the stop was asked: the stop landing later proves nothing', () => {
    // The cut healed for the replica between the manager's STOP and the IO thread ending.
    const { stops, last } = replay([rows.reconnecting, rows.streaming, rows.stopped], 0);
    expect(verdictOn(last, stops)).toMatchObject({ agree: false, lost: [], cannotTell: [REPLICA] });
    // Still the manager's stop: it restarts the receiver once the primary is seen healthy.
    expect(stops.names()).toEqual(new Set([REPLICA]));
  });
});

describe('StoppedReceivers', () => {
  const observe = (stops: StoppedReceivers, row: Record<string, unknown> | undefined) =>
    stops.observed(replicaWith(mariadb, row));

  it('counts a stop asked less than the bound ago as still under way, and one asked longer ago as not', () => {
    const stops = new StoppedReceivers();
    stops.asked(REPLICA, PRIMARY, true, 10_000);
    expect(stops.pending(REPLICA, 10_500, 10_000)).toBe(true);
    expect(stops.pending(REPLICA, 19_999, 10_000)).toBe(true);
    expect(stops.pending(REPLICA, 20_000, 10_000)).toBe(false);
    expect(stops.pending('db-replica-2', 10_500, 10_000)).toBe(false);
  });

  it('keeps the testimony through a stop that left the connection error of a failed attempt behind', () => {
    const stops = new StoppedReceivers();
    stops.asked(REPLICA, PRIMARY, true, 0);
    observe(stops, MARIADB_STOPPED_AFTER_2003);
    expect(stops.testifying(PRIMARY)).toEqual(new Set([REPLICA]));
  });

  it('forgets the stop when the replica was refused by a source it reached (1236)', () => {
    const stops = new StoppedReceivers();
    stops.asked(REPLICA, PRIMARY, true, 0);
    observe(stops, MARIADB_REFUSED_1236);
    expect(stops.names()).toEqual(new Set());
  });

  it('forgets the stop once the replica forgot its source (RESET SLAVE ALL) or follows another one', () => {
    const forgot = new StoppedReceivers();
    forgot.asked(REPLICA, PRIMARY, true, 0);
    observe(forgot, undefined);
    expect(forgot.names()).toEqual(new Set());

    const elsewhere = new StoppedReceivers();
    elsewhere.asked(REPLICA, PRIMARY, true, 0);
    observe(elsewhere, { ...MARIADB_STREAMING, Master_Host: OTHER.host });
    expect(elsewhere.names()).toEqual(new Set());
  });

  it('changes nothing while the replica cannot be reached', () => {
    const stops = new StoppedReceivers();
    stops.asked(REPLICA, PRIMARY, true, 0);
    stops.observed({ name: REPLICA, reachable: false, error: 'connect ETIMEDOUT', errorCode: 'ETIMEDOUT' });
    expect(stops.testifying(PRIMARY)).toEqual(new Set([REPLICA]));
  });

  it('names only the replicas of the source asked about', () => {
    const stops = new StoppedReceivers();
    stops.asked(REPLICA, PRIMARY, true, 0);
    expect(stops.testifying(OTHER)).toEqual(new Set());
  });
});

describe('upkeep after a failover that did not happen', () => {
  const nodes = [
    { name: PRIMARY.name, host: PRIMARY.host, port: PRIMARY.port, neverPromote: false },
    { name: REPLICA, host: OTHER.host, port: OTHER.port, neverPromote: false },
  ];
  const primaryBack: ReachableNode = {
    ...replicaWith(mariadb, undefined),
    name: PRIMARY.name,
    readOnly: false,
  };

  it('starts receiving again on the replica the manager stopped, once the primary is back', () => {
    const plan = upkeep(
      mariadb,
      nodes,
      [primaryBack, replicaWith(mariadb, MARIADB_STOPPED)],
      PRIMARY.name,
      new Set([REPLICA]),
    );
    expect(plan).toMatchObject({ resume: [REPLICA], stopped: [], broken: [] });
  });

  it('leaves a replica stopped by hand alone, as before', () => {
    const plan = upkeep(mariadb, nodes, [primaryBack, replicaWith(mariadb, MARIADB_STOPPED)], PRIMARY.name);
    expect(plan).toMatchObject({ resume: [], stopped: [REPLICA] });
  });
});
