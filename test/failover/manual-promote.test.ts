import { type Cluster, startCluster } from '@rwsplit/cluster';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The harness's manual promote() without managers: told to promote a replica that is behind another, it
// must not leave the other ahead of the new primary (unable to follow it, error 1236) nor lose what only
// the other had received. It first catches the chosen one up from the most advanced node.
let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster({ monitoring: false, servers: 0, replicas: 2, failover: false });
  await cluster.primary().query('CREATE TABLE app.marks (id INT PRIMARY KEY)');
});

afterAll(async () => {
  await cluster?.stop();
});

async function ids(node: Cluster['dbNodes'][number]): Promise<number[]> {
  const rows = await node.query('SELECT id FROM app.marks ORDER BY id');
  return rows.map((row) => Number(row.id));
}

describe('promote() by hand', () => {
  it('promotes the replica it is told after catching it up from the most advanced one; the other follows it', async () => {
    const [behind, ahead] = [cluster.replica(0), cluster.replica(1)];
    const primary = cluster.primary();
    await primary.query('INSERT INTO app.marks VALUES (1), (2)');
    await behind.query('STOP SLAVE IO_THREAD');
    for (let id = 3; id <= 22; id++) await primary.query('INSERT INTO app.marks VALUES (?)', [id]);
    const [{ pos } = { pos: '' }] = await primary.query('SELECT @@GLOBAL.gtid_binlog_pos AS pos');
    const [{ w } = { w: -1 }] = await ahead.query('SELECT MASTER_GTID_WAIT(?, 10) AS w', [pos]);
    expect(Number(w)).toBe(0);
    await primary.kill();
    await behind.query('START SLAVE IO_THREAD');
    expect(await ids(behind)).toEqual([1, 2]);

    await behind.promote();

    expect(cluster.primary().name).toBe(behind.name);
    const expected = Array.from({ length: 22 }, (_, i) => i + 1);
    expect(await ids(behind)).toEqual(expected);
    const [{ ro } = { ro: undefined }] = await behind.query('SELECT @@GLOBAL.read_only AS ro');
    expect(Number(ro)).toBe(0);
    await behind.query('INSERT INTO app.marks VALUES (23)');
    const [{ pos: next } = { pos: '' }] = await behind.query('SELECT @@GLOBAL.gtid_binlog_pos AS pos');
    const [{ w: followed } = { w: -1 }] = await ahead.query('SELECT MASTER_GTID_WAIT(?, 10) AS w', [next]);
    expect(Number(followed)).toBe(0);
    expect(await ahead.replicationStatus()).toMatchObject({
      ioRunning: true,
      sqlRunning: true,
      primaryHost: behind.host,
      lastError: '',
    });
    expect(await ids(ahead)).toEqual([...expected, 23]);
  });
});
