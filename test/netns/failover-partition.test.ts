import { readFileSync } from 'node:fs';
// The failover managers' partition drills (#13 left them to the network lab): the primary cut off from
// every other host. The side with the quorum promotes a replica; when the partition heals, the old primary
// (still writable on its own, unreachable by any client meanwhile) is fenced, and no acknowledged write is
// lost. Then the other way: a manager cut off alone does nothing (it has no quorum), and nothing changes.
import { type Cluster, startCluster } from '@rwsplit/cluster';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CookieJar, LbClient } from '../e2e/support/client.js';
import { NOTES_APP } from '../support/notes-app.js';

const asRoot = process.platform === 'linux' && process.getuid?.() === 0;

let cluster: Cluster;

beforeAll(async () => {
  if (!asRoot) return;
  cluster = await startCluster({
    hosts: 'netns',
    servers: 2,
    replicas: 1,
    app: NOTES_APP,
    monitoring: false,
  });
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
}, 120_000);

async function writable(node: { query(sql: string): Promise<unknown> }): Promise<boolean> {
  const rows = (await node.query('SELECT @@global.read_only AS ro')) as unknown as { ro: number }[];
  return Number(rows[0]?.ro) === 0;
}

describe.skipIf(!asRoot)('failover under partitions', () => {
  // Failed until the manager kept a replica's testimony across its own stop (see StoppedReceivers in
  // @rwsplit/failover): the replica lost the silent primary within 2 s (slave_net_timeout 2, heartbeat
  // 0.5 s), the managers decided, and STOP SLAVE IO_THREAD on it outlasted the 500 ms step bound, because
  // the IO thread was in a connection attempt that the dropped packets kept open until it timed out. The
  // stop completed on the server and left the IO thread `No` without an error, which read as a replica
  // stopped by hand: no replica could confirm any more, and nobody was promoted. Before the conntrack fix in
  // the lab (every namespace tracks connections from its first packet), the drill instead lost 20 of 30
  // acknowledged writes: the firewall's `ct state invalid drop` had stalled replication, semi-sync fell
  // back to async, and the promoted replica lacked them.
  it('promotes a replica when the primary is cut off from everyone, and fences the old one when it heals', async () => {
    const client = LbClient.forCluster(cluster, { jar: new CookieJar(), timeoutMs: 5_000 });
    const acknowledged: string[] = [];
    const write = async (title: string): Promise<boolean> => {
      const reply = await client.post('/api/notes', { title }).catch(() => undefined);
      if (reply?.status === 201) acknowledged.push(title);
      return reply?.status === 201;
    };
    const run = `partition-${Date.now()}`;
    for (let i = 0; i < 20; i++) await write(`${run} before ${i}`);

    const old = cluster.primary();
    const db = cluster.credentials.app.database;
    const snapshot = async (label: string) => {
      for (const node of cluster.dbNodes) {
        const rows = await node
          .query(
            // Not `SELECT COUNT(*) ..., @@global.read_only FROM`: MariaDB 10.11 reads a boolean system
            // variable as 0 next to an aggregate.
            `SELECT (SELECT COUNT(*) FROM ${db}.notes WHERE title LIKE ?) AS n, @@global.gtid_current_pos AS pos, @@global.read_only AS ro`,
            [`${run} %`],
          )
          .catch((e: Error) => e.message);
        console.log(`partition ${label}: ${node.name} ${JSON.stringify(rows)}`);
      }
    };
    await snapshot('before the cut');
    const slave = (await cluster.replica(0).query('SHOW SLAVE STATUS')) as unknown as Record<
      string,
      unknown
    >[];
    const r = slave[0] ?? {};
    console.log(
      `partition replica status: ${JSON.stringify({ io: r.Slave_IO_Running, sql: r.Slave_SQL_Running, ioErr: r.Last_IO_Error, sqlErr: r.Last_SQL_Error, host: r.Master_Host, state: r.Slave_IO_State, n: slave.length })}`,
    );
    console.log(`partition roles: ${cluster.dbNodes.map((n) => `${n.name}=${n.role}`).join(' ')}`);
    for (const m of ['manager-1', 'manager-2']) {
      const lines = readFileSync(`${cluster.stateDir}/failover/${m}.log`, 'utf8').split('\n');
      console.log(
        `partition ${m} log: ${lines
          .filter((l) => !/node.reachable/.test(l))
          .slice(0, 14)
          .map((l) => l.slice(0, 260))
          .join('\n')}`,
      );
    }
    const others = cluster.network.hosts.map((h) => h.name).filter((name) => name !== old.name);
    const cut = await cluster.network.partition([old.name], others);
    const cutAt = Date.now();
    let healed = false;
    try {
      const next = await cluster.waitForPrimary({ not: old, timeoutMs: 30_000 });
      const promotedMs = Date.now() - cutAt;
      await snapshot('promoted');
      expect(next.name).not.toBe(old.name);
      // Writes go on through the new primary while the old one is cut off, once the routers have seen it
      // (their rounds wait for the probe of the cut-off node to time out).
      let firstAckMs: number | undefined;
      while (firstAckMs === undefined && Date.now() - cutAt < 45_000) {
        if (await write(`${run} during 0`)) firstAckMs = Date.now() - cutAt;
        else await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const reports = await Promise.all(cluster.failover.map(async (m) => (await m.status()).lastFailover));
      const promotion = reports.find((report) => report?.to === next.name);
      console.log(
        `partition: ${next.name} writable ${promotedMs} ms after ${old.name} was cut off (the promotion itself ${promotion?.durationMs} ms), first write acknowledged at ${firstAckMs} ms`,
      );
      expect(firstAckMs).toBeDefined();
      for (let i = 1; i < 20; i++) await write(`${run} during ${i}`);
      // Cut off, the old primary is still writable on its own: nobody could fence it (its socket shows it).
      console.log(
        `partition: ${old.name} cut off; ${next.name} promoted; old primary writable meanwhile: ${await writable(old)}`,
      );
      await cut.undo();
      healed = true;
      // Healed: the managers see two writable nodes and fence the one that is not the primary.
      const end = Date.now() + 30_000;
      while (Date.now() < end && (await writable(old)))
        await new Promise((resolve) => setTimeout(resolve, 200));
      expect(await writable(old), `${old.name} fenced after the heal`).toBe(false);
      expect(await writable(next)).toBe(true);
    } finally {
      if (!healed) await cut.undo();
    }
    await snapshot('healed');
    for (let i = 0; i < 10; i++) await write(`${run} after ${i}`);
    await snapshot('after');

    const primary = await cluster.waitForPrimary();
    const rows = (await primary.query(
      `SELECT title FROM ${cluster.credentials.app.database}.notes WHERE title LIKE ?`,
      [`${run} %`],
    )) as unknown as { title: string }[];
    const stored = new Set(rows.map((row) => row.title));
    const lost = acknowledged.filter((title) => !stored.has(title));
    console.log(
      `partition: ${acknowledged.length} writes acknowledged, ${lost.length} lost: ${lost.slice(0, 5).join(', ')}; stored ${stored.size}; primary now ${primary.name}`,
    );
    expect(lost).toEqual([]);
    expect(acknowledged.length).toBeGreaterThanOrEqual(40);
  }, 120_000);

  it('does nothing when a manager alone is cut off: no quorum, no failover, the primary stays', async () => {
    const primary = await cluster.waitForPrimary();
    const leader = await cluster.failoverLeader();
    const host = new URL(leader.url).hostname;
    const name = cluster.network.hosts.find((h) => h.address === host)?.name ?? '';
    const everyoneElse = cluster.network.hosts.map((h) => h.name).filter((n) => n !== name);
    const cut = await cluster.network.partition([name], everyoneElse);
    try {
      // Longer than the detection time (3 probes 250 ms apart) and a lease: nobody acts on a partial view.
      await new Promise((resolve) => setTimeout(resolve, 6_000));
      await cluster.refreshRoles();
      expect(cluster.primary().name).toBe(primary.name);
      expect(await writable(primary)).toBe(true);
    } finally {
      await cut.undo();
    }
    const after = await cluster.failoverLeader(15_000);
    expect(after).toBeDefined();
    expect(cluster.primary().name).toBe(primary.name);
  }, 60_000);
});
