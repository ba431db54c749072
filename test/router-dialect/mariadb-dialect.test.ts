import { type Cluster, type DbNode, startCluster } from '@rwsplit/cluster';
import mysql, { type Connection, type ResultSetHeader } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  covers,
  formatPosition,
  type GtidPosition,
  merge,
} from '../../packages/router/src/consistency/position.js';
import { decodeToken, encodeToken } from '../../packages/router/src/consistency/token.js';
import { type Dialect, detectDialect, type Probe } from '../../packages/router/src/dialect/dialect.js';

// One primary + one replica for the whole file. The tests run in order; each undoes its fault, and the
// failover drill comes last.
let cluster: Cluster;
let dialect: Dialect;
const open: Connection[] = [];

beforeAll(async () => {
  // No failover managers: this suite is about the dialect across a promotion done by hand.
  cluster = await startCluster({ monitoring: false, servers: 0, replicas: 1, failover: false });
  await cluster
    .primary()
    .query('CREATE TABLE app.notes (id INT AUTO_INCREMENT PRIMARY KEY, title VARCHAR(40))');
  const [version] = await cluster.primary().query('SELECT VERSION() AS version');
  dialect = detectDialect(String(version?.version));
});

afterAll(async () => {
  await Promise.allSettled(open.map((connection) => connection.end()));
  await cluster?.stop();
});

async function connect(node: DbNode, as: 'app' | 'monitor'): Promise<Connection> {
  const { user, password } = cluster.credentials[as];
  const connection = await mysql.createConnection({
    host: node.host,
    port: node.port,
    user,
    password,
    database: cluster.credentials.app.database,
    ssl: cluster.credentials.app.ssl,
    connectTimeout: 2_000,
  });
  // A node killed under an idle connection must not crash the test run.
  connection.on('error', () => {});
  open.push(connection);
  return connection;
}

async function run<T>(connection: Connection, probe: Probe<T>): Promise<T> {
  const [result] = await connection.query(probe.sql, [...probe.values]);
  const parsed = probe.parse(result);
  if (!parsed.ok) throw new Error(`${probe.sql}: ${parsed.error}`);
  return parsed.value;
}

/** An INSERT through a tracking connection, and the commit GTID its OK packet carried. */
async function write(
  connection: Connection,
  title: string,
): Promise<{ header: ResultSetHeader; position: GtidPosition }> {
  const [header] = await connection.query<ResultSetHeader>('INSERT INTO notes (title) VALUES (?)', [title]);
  const position = dialect.commitPosition(header);
  if (position === undefined) throw new Error(`no commit GTID in ${JSON.stringify(header)}`);
  return { header, position };
}

/** Polls until `check` gives a value; a failing check (a table not replicated yet) counts as "not yet". */
async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    const value = await check().catch((error: unknown) => {
      lastError = error;
      return undefined;
    });
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time', { cause: lastError });
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function trackingConnection(node: DbNode): Promise<Connection> {
  const connection = await connect(node, 'app');
  await connection.query(dialect.enableGtidTracking.sql, [...dialect.enableGtidTracking.values]);
  return connection;
}

describe('MariaDB dialect against a real primary and replica', () => {
  it('detects MariaDB from VERSION()', () => {
    expect(dialect.flavor).toBe('mariadb');
  });

  it("reports each commit's GTID in mysql2's stateChanges once tracking is on", async () => {
    const connection = await trackingConnection(cluster.primary());
    const { header, position } = await write(connection, 'tracked');
    expect(header.affectedRows).toBe(1);
    expect((header as unknown as { stateChanges: unknown }).stateChanges).toEqual({
      systemVariables: { last_gtid: expect.stringMatching(/^0-1-\d+$/) },
      schema: null,
      gtids: [],
      trackStateChange: null,
    });
    // The same GTID the fallback query reads, and one the primary has.
    expect(await run(connection, dialect.lastCommitPosition)).toEqual(position);
    const [vars] = await connection.query('SELECT @@SESSION.session_track_system_variables AS tracked');
    expect(String((vars as Array<{ tracked: string }>)[0]?.tracked).split(',')).toContain('last_gtid');
    expect(
      covers(await run(await connect(cluster.primary(), 'monitor'), dialect.appliedPosition), position),
    ).toBe(true);
  });

  it('reports the GTID with COMMIT, not with the statements inside a transaction', async () => {
    const connection = await trackingConnection(cluster.primary());
    await connection.query('BEGIN');
    const [inside] = await connection.query('INSERT INTO notes (title) VALUES (?)', ['in a transaction']);
    expect(dialect.commitPosition(inside)).toBeUndefined();
    const [commit] = await connection.query('COMMIT');
    expect(dialect.commitPosition(commit)).toEqual(await run(connection, dialect.lastCommitPosition));
  });

  it('needs the tracking statement: without it (or after COM_RESET_CONNECTION) only the fallback query knows', async () => {
    const plain = await connect(cluster.primary(), 'app');
    const [header] = await plain.query('INSERT INTO notes (title) VALUES (?)', ['untracked']);
    expect(dialect.commitPosition(header)).toBeUndefined();
    expect(formatPosition(await run(plain, dialect.lastCommitPosition))).toMatch(/^0-1-\d+$/);

    const tracked = await trackingConnection(cluster.primary());
    await tracked.reset();
    const [afterReset] = await tracked.query('INSERT INTO notes (title) VALUES (?)', ['after reset']);
    expect(dialect.commitPosition(afterReset)).toBeUndefined();
  });

  it("orders several commits: each covers the previous, and the scope's merge is the last", async () => {
    const connection = await trackingConnection(cluster.primary());
    const first = (await write(connection, 'one')).position;
    const second = (await write(connection, 'two')).position;
    expect(covers(second, first)).toBe(true);
    expect(covers(first, second)).toBe(false);
    expect(merge(first, second)).toEqual(second);
  });

  it("parses the replica's applied position, which covers a commit once it has replicated", async () => {
    const { position } = await write(await trackingConnection(cluster.primary()), 'replicated');
    const monitor = await connect(cluster.replica(0), 'monitor');
    const applied = await eventually(async () => {
      const current = await run(monitor, dialect.appliedPosition);
      return covers(current, position) ? current : undefined;
    });
    expect(formatPosition(applied)).toMatch(/^0-1-\d+$/);
    const reader = await connect(cluster.replica(0), 'app');
    expect(await run(reader, dialect.waitForPosition(position, 0)!)).toBe('reached');
  });

  it('reads role and replica status from real rows', async () => {
    const onPrimary = await connect(cluster.primary(), 'monitor');
    const onReplica = await connect(cluster.replica(0), 'monitor');
    expect(await run(onPrimary, dialect.role)).toEqual({ readOnly: false });
    expect(await run(onReplica, dialect.role)).toEqual({ readOnly: true });
    expect(await run(onPrimary, dialect.replicaStatus)).toBeUndefined();
    expect(await run(onReplica, dialect.replicaStatus)).toEqual({
      ioRunning: true,
      sqlRunning: true,
      secondsBehind: expect.any(Number),
      sourceHost: cluster.primary().host,
      sourcePort: cluster.primary().port,
      lastError: '',
      ioState: 'Yes',
      ioErrno: 0,
      sqlErrno: 0,
      receivedGtids: expect.stringMatching(/^0-1-\d+$/),
    });
  });

  it('reads a stopped replica, and a running one again after START SLAVE', async () => {
    const monitor = await connect(cluster.replica(0), 'monitor');
    await cluster.replica(0).stopReplication();
    try {
      expect(await run(monitor, dialect.replicaStatus)).toMatchObject({
        ioRunning: false,
        sqlRunning: false,
        secondsBehind: null,
        lastError: '',
      });
    } finally {
      await cluster.replica(0).startReplication();
    }
    const running = await eventually(async () => {
      const state = await run(monitor, dialect.replicaStatus);
      return state?.ioRunning && state.sqlRunning ? state : undefined;
    });
    expect(running.secondsBehind).not.toBeNull();
  });

  it('times MASTER_GTID_WAIT out while the replica is delayed, and reaches the position after', async () => {
    const replica = cluster.replica(0);
    const monitor = await connect(replica, 'monitor');
    const reader = await connect(replica, 'app');
    await replica.delayReplication(2_000);
    try {
      const { position } = await write(await trackingConnection(cluster.primary()), 'delayed');

      const started = Date.now();
      expect(await run(reader, dialect.waitForPosition(position, 100)!)).toBe('timeout');
      expect(Date.now() - started).toBeGreaterThanOrEqual(90);
      expect(covers(await run(monitor, dialect.appliedPosition), position)).toBe(false);

      const delayed = await eventually(async () => {
        const state = await run(monitor, dialect.replicaStatus);
        return state !== undefined && state.secondsBehind !== null && state.secondsBehind >= 1
          ? state
          : undefined;
      });
      expect(delayed).toMatchObject({ ioRunning: true, sqlRunning: true });

      expect(await run(reader, dialect.waitForPosition(position, 10_000)!)).toBe('reached');
      expect(covers(await run(monitor, dialect.appliedPosition), position)).toBe(true);
    } finally {
      await replica.delayReplication(0);
    }
  });

  it('writes the heartbeat on the primary and reads a lag on the replica that grows while its SQL thread stops', async () => {
    const heartbeat = dialect.heartbeat({
      schema: cluster.credentials.app.database,
      table: 'rwsplit_heartbeat',
    });
    const writer = await connect(cluster.primary(), 'monitor');
    const reader = await connect(cluster.replica(0), 'monitor');
    for (const connection of [writer, reader]) await connection.query(heartbeat.sessionSetup.sql);
    await writer.query(heartbeat.createTable.sql);
    const beat = () => writer.query(heartbeat.upsert(1).sql, [...heartbeat.upsert(1).values]);
    await beat();

    // Fresh heartbeats every 50 ms: the replica is well under a second behind.
    const healthy = await eventually(async () => {
      await beat();
      const lag = await run(reader, heartbeat.lag);
      return lag !== null && lag < 500 ? lag : undefined;
    });
    expect(healthy).toBeGreaterThanOrEqual(0);

    await cluster.replica(0).query('STOP SLAVE SQL_THREAD');
    try {
      const before = await run(reader, heartbeat.lag);
      for (let i = 0; i < 6; i++) {
        await beat();
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const after = await run(reader, heartbeat.lag);
      expect(before).not.toBeNull();
      expect(after).toBeGreaterThanOrEqual((before ?? 0) + 500);
    } finally {
      await cluster.replica(0).query('START SLAVE SQL_THREAD');
    }
    await eventually(async () => {
      await beat();
      const lag = await run(reader, heartbeat.lag);
      return lag !== null && lag < 500 ? lag : undefined;
    });
  });

  it("orders the new primary's GTIDs after a failover (new server id, same domain), token included", async () => {
    const oldPrimary = cluster.primary();
    const { position: lastOld } = await write(await trackingConnection(oldPrimary), 'before failover');
    const token = encodeToken(lastOld);
    await run(await connect(cluster.replica(0), 'app'), dialect.waitForPosition(lastOld, 10_000)!);

    await oldPrimary.kill();
    await cluster.replica(0).promote();
    const newPrimary = cluster.primary();
    expect(newPrimary.serverId).not.toBe(oldPrimary.serverId);

    const monitor = await connect(newPrimary, 'monitor');
    expect(await run(monitor, dialect.role)).toEqual({ readOnly: false });
    expect(await run(monitor, dialect.replicaStatus)).toBeUndefined();

    const { position: firstNew } = await write(await trackingConnection(newPrimary), 'after failover');
    expect(formatPosition(firstNew)).toMatch(new RegExp(`^0-${newPrimary.serverId}-\\d+$`));

    const required = decodeToken(token);
    expect(required).toEqual(lastOld);
    expect(covers(firstNew, required!)).toBe(true);
    expect(covers(lastOld, firstNew)).toBe(false);
    expect(merge(required!, firstNew)).toEqual(firstNew);
    const applied = await run(monitor, dialect.appliedPosition);
    expect(covers(applied, required!) && covers(applied, firstNew)).toBe(true);
  });
});
