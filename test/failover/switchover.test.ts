import { type Cluster, startCluster } from '@rwsplit/cluster';
import type { FailoverReport } from '@rwsplit/failover';
import { createRouter } from '@rwsplit/router';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeConfig } from '../support/cluster-nodes.js';
import { LOAD_DDL, missingOn, plainWriters, routerWriters } from '../support/write-load.js';

// A planned change of primary under full-speed writes: `rwsplit-failover switchover --to` (the harness's
// promote() asks the leading manager for it). Nothing acknowledged may be lost; writes pause between the
// old primary's fence and the new one taking writes.
const LOAD_MS = 1_500;

let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster({
    monitoring: false,
    servers: 0,
    replicas: 2,
    failover: { cooldownMs: 1_000 },
  });
  await cluster.primary().query(LOAD_DDL);
});

afterAll(async () => {
  await cluster?.stop();
});

/** The longest time between two acknowledged writes (any writer) after `since`. */
function longestGap(ackTimes: readonly number[], since: number): number {
  const times = ackTimes.filter((at) => at >= since).sort((a, b) => a - b);
  let gap = 0;
  for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i]! - times[i - 1]!);
  return gap;
}

describe('switchover under load', () => {
  it('moves the primary to the chosen replica, re-points the old primary and the other replica, loses nothing', async () => {
    const old = cluster.primary();
    const target = cluster.replica(1);
    const load = plainWriters(cluster);
    await new Promise((resolve) => setTimeout(resolve, LOAD_MS));
    const started = Date.now();
    const leader = await cluster.failoverLeader();
    const report = (await leader.post('/switchover', { to: target.name })) as FailoverReport;
    await load.firstAckAfter(Date.now());
    await new Promise((resolve) => setTimeout(resolve, 500));
    const result = await load.stop();
    const gap = longestGap(result.ackTimes, started - 1_000);
    console.log(
      `switchover ${old.name} -> ${target.name}: ${result.acknowledged.size} acknowledged, ${result.inDoubt} in doubt; ` +
        `manager's write pause ${report.writePauseMs} ms, whole switchover ${report.durationMs} ms (${JSON.stringify(report.steps)}); longest gap between acknowledged writes ${gap} ms`,
    );
    expect(report).toMatchObject({ kind: 'switchover', from: old.name, to: target.name });
    expect(report.replicas).toEqual(
      expect.arrayContaining([
        { name: old.name, outcome: 'following' },
        { name: cluster.replica(0).name, outcome: 'following' },
      ]),
    );
    const primary = await cluster.waitForPrimary({ not: old });
    expect(primary.name).toBe(target.name);
    expect(await missingOn(primary, result.acknowledged)).toEqual([]);
    // The pause the writers saw is the manager's fence-to-promote plus their reconnect.
    expect(report.writePauseMs).toBeLessThan(gap + 1);
    const [{ ro } = { ro: undefined }] = await old.query('SELECT @@GLOBAL.read_only AS ro');
    expect(Number(ro)).toBe(1);
    expect(await old.replicationStatus()).toMatchObject({
      ioRunning: true,
      sqlRunning: true,
      primaryHost: target.host,
    });
  });

  it('through the router, a switchover only slows writes down: none fails, none is lost', async () => {
    await cluster.refreshRoles();
    const { app, monitor } = cluster.credentials;
    const db = createRouter({
      primary: nodeConfig(cluster.primary()),
      replicas: cluster.replicas().map(nodeConfig),
      connection: { user: app.user, password: app.password, database: app.database, ssl: app.ssl },
      monitor: { user: monitor.user, password: monitor.password, intervalMs: 100 },
    });
    try {
      await db.ready();
      const old = cluster.primary();
      const target = cluster.replicas().find((node) => node.running)!;
      const load = routerWriters(db);
      await new Promise((resolve) => setTimeout(resolve, LOAD_MS));
      const report = (await (
        await cluster.failoverLeader()
      ).post('/switchover', { to: target.name })) as FailoverReport;
      await load.firstAckAfter(Date.now());
      await new Promise((resolve) => setTimeout(resolve, 300));
      const result = await load.stop();
      console.log(
        `switchover through the router ${old.name} -> ${target.name}: ${result.acknowledged.size} acknowledged, ` +
          `${result.failed} failed, ${result.inDoubt} in doubt; pause ${report.writePauseMs} ms`,
      );
      // Refused by the fenced primary, each write waited for the monitor to see the new one and ran there.
      expect(result.failed, result.lastError).toBe(0);
      expect(result.inDoubt).toBe(0);
      expect(await missingOn(await cluster.waitForPrimary({ not: old }), result.acknowledged)).toEqual([]);
    } finally {
      await db.close();
    }
  });

  it('refuses a switchover to a node that is not a replica of the primary, and changes nothing', async () => {
    const leader = await cluster.failoverLeader();
    const primary = cluster.primary();
    await expect(leader.post('/switchover', { to: primary.name })).rejects.toThrow(/already the primary/);
    await expect(leader.post('/switchover', { to: 'db-nowhere' })).rejects.toThrow(/unknown node/);
    const [{ ro } = { ro: undefined }] = await primary.query('SELECT @@GLOBAL.read_only AS ro');
    expect(Number(ro)).toBe(0);
  });
});
