import { type Cluster, type DbNode, startCluster } from '@rwsplit/cluster';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// One database-only cluster (primary + 2 replicas) for the whole file; the tests run in order and each
// undoes its fault, the promotion drill last.
let cluster: Cluster;

beforeAll(async () => {
  // No failover managers: this suite is about the harness's own faults, promote() by hand included.
  cluster = await startCluster({ monitoring: false, servers: 0, replicas: 2, failover: false });
  await cluster.primary().query('CREATE TABLE app.items (id INT PRIMARY KEY, label VARCHAR(40))');
});

afterAll(async () => {
  await cluster?.stop();
});

let nextId = 1;
async function insertOnPrimary(label: string): Promise<number> {
  const id = nextId++;
  await cluster.primary().query('INSERT INTO app.items VALUES (?, ?)', [id, label]);
  return id;
}

async function visibleOn(node: DbNode, id: number): Promise<boolean> {
  const rows = await node.query('SELECT id FROM app.items WHERE id = ?', [id]);
  return rows.length === 1;
}

async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

function appConnection(node: DbNode) {
  const { user, password, database, ssl } = cluster.credentials.app;
  return mysql.createConnection({
    host: node.host,
    port: node.port,
    user,
    password,
    database,
    ssl,
    connectTimeout: 2_000,
  });
}

describe('database topology', () => {
  it('gives every node its own address in the cluster block', () => {
    const addresses = cluster.dbNodes.map((node) => node.host);
    expect(addresses).toEqual([`${cluster.block}.21`, `${cluster.block}.22`, `${cluster.block}.23`]);
    expect(cluster.primary().name).toBe('db-primary');
    expect(cluster.replicas().map((node) => node.name)).toEqual(['db-replica-1', 'db-replica-2']);
  });

  it('replicates a write on the primary to every replica', async () => {
    const id = await insertOnPrimary('replicated');
    for (const replica of cluster.replicas()) {
      expect(await eventually(() => visibleOn(replica, id))).toBe(true);
    }
  });

  it('lets the app user write on the primary but not on a read-only replica', async () => {
    const onPrimary = await appConnection(cluster.primary());
    const onReplica = await appConnection(cluster.replica(0));
    try {
      await onPrimary.query('INSERT INTO items VALUES (?, ?)', [nextId++, 'app write']);
      await expect(
        onReplica.query('INSERT INTO items VALUES (?, ?)', [nextId++, 'nope']),
      ).rejects.toMatchObject({
        code: 'ER_OPTION_PREVENTS_STATEMENT',
      });
      const [grants] = await onPrimary.query('SHOW GRANTS');
      expect(JSON.stringify(grants)).not.toMatch(/ALL PRIVILEGES ON \*\.\*/);
    } finally {
      await onPrimary.end();
      await onReplica.end();
    }
  });

  it('stops replication and starts it again', async () => {
    const replica = cluster.replica(0);
    await replica.stopReplication();
    expect(await replica.replicationStatus()).toMatchObject({ ioRunning: false, sqlRunning: false });
    const id = await insertOnPrimary('while stopped');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await visibleOn(replica, id)).toBe(false);
    await replica.startReplication();
    expect(await eventually(() => visibleOn(replica, id))).toBe(true);
  });

  it('delays replication with MASTER_DELAY and removes the delay', async () => {
    const replica = cluster.replica(0);
    await replica.delayReplication(2_000);
    expect((await replica.replicationStatus())?.sqlDelaySeconds).toBe(2);
    const written = Date.now();
    const id = await insertOnPrimary('delayed');
    expect(await eventually(() => visibleOn(replica, id), 8_000)).toBe(true);
    // MASTER_DELAY counts from the event's timestamp, which has one-second resolution.
    expect(Date.now() - written).toBeGreaterThanOrEqual(1_000);
    await replica.delayReplication(0);
    expect((await replica.replicationStatus())?.sqlDelaySeconds).toBe(0);
  });

  it('pauses a node (SIGSTOP) so it hangs, and resumes it', async () => {
    const replica = cluster.replica(1);
    await replica.pause();
    expect(replica.paused).toBe(true);
    const hung = await appConnection(replica).then(
      (connection) => connection.end().then(() => 'answered'),
      (error: { code?: string }) => error.code ?? 'error',
    );
    expect(hung).toBe('ETIMEDOUT');
    await replica.resume();
    expect(replica.paused).toBe(false);
    const id = await insertOnPrimary('after resume');
    expect(await eventually(() => visibleOn(replica, id))).toBe(true);
  });

  it('kills a replica and restarts it; it catches up on what it missed', async () => {
    const replica = cluster.replica(1);
    const pid = replica.pid;
    await replica.kill();
    expect(replica.running).toBe(false);
    expect(pid).toBeDefined();
    expect(() => process.kill(pid ?? 0, 0)).toThrow();
    const id = await insertOnPrimary('while replica down');
    await replica.restart();
    expect(replica.running).toBe(true);
    expect(await eventually(() => visibleOn(replica, id))).toBe(true);
  });

  it('promotes a replica: it takes writes, the others follow it, the old primary rejoins as a replica', async () => {
    const oldPrimary = cluster.primary();
    const before = await insertOnPrimary('before failover');
    const candidate = cluster.replica(0);
    expect(await eventually(() => visibleOn(candidate, before))).toBe(true);
    await oldPrimary.kill();
    await candidate.promote();
    expect(cluster.primary()).toBe(candidate);
    const [readOnly] = await candidate.query('SELECT @@GLOBAL.read_only AS ro');
    expect(readOnly?.ro).toBe(0);

    const after = await insertOnPrimary('after failover');
    const other = cluster.dbNodes.find((node) => node !== candidate && node !== oldPrimary);
    expect(other?.role).toBe('replica');
    expect(await eventually(() => visibleOn(other as DbNode, after))).toBe(true);
    expect((await other?.replicationStatus())?.primaryHost).toBe(candidate.host);

    await oldPrimary.restart();
    expect(oldPrimary.role).toBe('replica');
    const [oldReadOnly] = await oldPrimary.query('SELECT @@GLOBAL.read_only AS ro');
    expect(oldReadOnly?.ro).toBe(1);
    const later = await insertOnPrimary('old primary rejoined');
    expect(await eventually(() => visibleOn(oldPrimary, later))).toBe(true);
    expect(await visibleOn(oldPrimary, before)).toBe(true);
  });
});
