import type { QueryResult } from 'mysql2/promise';
import { afterEach, describe, expect, it } from 'vitest';
import { detectDialect } from '../src/dialect/dialect.js';
import { CATCH_UP_WAIT_MS } from '../src/topology/caught-up.js';
import { type NodeStatus, TopologyMonitor } from '../src/topology/monitor.js';
import { MARIADB_REPLICA_RUNNING } from './dialect-fixtures.js';
import { FakeServer } from './fake-driver.js';

// The round's catch-up check, driven over fake MariaDB servers: the primary has committed 0-1-100 (another
// router's heartbeat), the replica was read at 0-1-99 and its heartbeat is 190 ms old.
const HEARTBEAT_AGE_MS = 190;

const VERSION = { version: '10.11.6-MariaDB' };

type WaitReply = 'reached' | 'timeout' | 'hang';

function primaryServer(): FakeServer {
  return new FakeServer('p', (sql) => {
    if (sql.includes('VERSION()')) return rows(VERSION);
    if (sql.includes('read_only')) return rows({ read_only: 0 });
    if (sql.includes('gtid_slave_pos')) return rows({ gtid_slave_pos: '', gtid_binlog_pos: '0-1-100' });
    return rows();
  });
}

function replicaServer(applied: string, wait: WaitReply): FakeServer {
  return new FakeServer('r1', (sql) => {
    if (sql.includes('VERSION()')) return rows(VERSION);
    if (sql.includes('read_only')) return rows({ read_only: 1 });
    if (sql.includes('SHOW SLAVE STATUS')) return rows(MARIADB_REPLICA_RUNNING);
    if (sql.includes('gtid_slave_pos')) return rows({ gtid_slave_pos: applied, gtid_binlog_pos: '' });
    if (sql.includes('TIMESTAMPDIFF')) return rows({ lag_us: HEARTBEAT_AGE_MS * 1000 });
    if (sql.includes('MASTER_GTID_WAIT')) {
      if (wait === 'hang') return new Promise<never>(() => {});
      return rows({ waited: wait === 'reached' ? 0 : -1 });
    }
    return rows();
  });
}

function rows(...values: object[]): QueryResult {
  return values as unknown as QueryResult;
}

const monitors: TopologyMonitor[] = [];

afterEach(async () => {
  for (const monitor of monitors.splice(0)) await monitor.stop();
});

/** Runs one round (what `start()` resolves after) over the two servers. */
async function firstRound(primary: FakeServer, replica: FakeServer) {
  const servers = new Map([
    ['p', primary],
    ['r1', replica],
  ]);
  const monitor = new TopologyMonitor({
    nodes: [
      { name: 'primary', host: 'p', port: 3306 },
      { name: 'replica-1', host: 'r1', port: 3306 },
    ],
    configuredPrimary: 'primary',
    intervalMs: 250,
    timeoutMs: 1_000,
    maxLagMs: 1_000,
    readmitAfterMs: 1_000,
    heartbeat: { schema: 'app', table: 'rwsplit_heartbeat', create: true, writerId: 1 },
    connect: (node) => (servers.get(node.host) as FakeServer).accept(),
    logger: { info() {}, warn() {} },
    onChange() {},
    detectDialect,
  });
  monitors.push(monitor);
  const startedAt = performance.now();
  await monitor.start();
  const roundMs = performance.now() - startedAt;
  const status = monitor.snapshot().find((s) => s.name === 'replica-1') as NodeStatus;
  return { status, roundMs };
}

function waits(server: FakeServer) {
  return server.executed.filter((e) => e.sql.includes('MASTER_GTID_WAIT'));
}

describe("the monitor round's catch-up check", () => {
  it("caps the lag of a replica that applies the primary's newest commit within the wait", async () => {
    const replica = replicaServer('0-1-99', 'reached');
    const { status } = await firstRound(primaryServer(), replica);
    expect(waits(replica).map((e) => e.values)).toEqual([['0-1-100', CATCH_UP_WAIT_MS / 1000]]);
    expect(status.lagMs).toBeLessThan(CATCH_UP_WAIT_MS);
    expect(status).toMatchObject({ reachable: true, inRotation: true });
  });

  it('keeps the heartbeat figure for a replica that does not apply it within the wait', async () => {
    const { status } = await firstRound(primaryServer(), replicaServer('0-1-99', 'timeout'));
    expect(status.lagMs).toBe(HEARTBEAT_AGE_MS);
  });

  it('gives up at twice the wait on a server that does not answer, keeping the node reachable', async () => {
    const replica = replicaServer('0-1-99', 'hang');
    const { status, roundMs } = await firstRound(primaryServer(), replica);
    expect(roundMs).toBeLessThan(2 * CATCH_UP_WAIT_MS + 100);
    expect(status).toMatchObject({ reachable: true, inRotation: true, lagMs: HEARTBEAT_AGE_MS });
    // Its connection is still inside the wait, so the next round connects afresh.
    expect(replica.connections.size).toBe(0);
  });

  it('does not check a replica whose own position read covered the primary', async () => {
    const replica = replicaServer('0-1-100', 'hang');
    const { status } = await firstRound(primaryServer(), replica);
    expect(waits(replica)).toEqual([]);
    expect(status.lagMs).toBeLessThan(CATCH_UP_WAIT_MS);
  });
});
