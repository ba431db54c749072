import { type Cluster, startCluster } from '@rwsplit/cluster';
import { PrimaryUnavailableError, type Router, RwsplitError } from '@rwsplit/router';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { timed } from '../support/timed.js';
import { eventually, replicated, routerFor, serverId } from './support.js';

// The tests run in order on one cluster: the replica dies and comes back, then the primary dies.
const CONNECT_TIMEOUT_MS = 1_000;
// A statement may pay one failed connect (bounded by the connect timeout) plus a few local round trips.
const WAIT_BOUND_MS = CONNECT_TIMEOUT_MS + 500;

let cluster: Cluster;
let db: Router;
let primaryId: number;
let replicaId: number;

beforeAll(async () => {
  // No failover managers: this suite is about what the router does with a dead primary and nobody to replace it.
  cluster = await startCluster({ monitoring: false, servers: 0, replicas: 1, failover: false });
  primaryId = cluster.primary().serverId;
  replicaId = cluster.replica(0).serverId;
  await cluster.primary().query('CREATE TABLE app.events (id INT AUTO_INCREMENT PRIMARY KEY, at BIGINT)');
  await replicated(cluster.replica(0), 'events');
  db = routerFor(cluster, {
    pool: { connectTimeoutMs: CONNECT_TIMEOUT_MS, max: 5 },
    circuitBreaker: { failureThreshold: 2, backoffMs: 200, maxBackoffMs: 1_000 },
  });
});

afterAll(async () => {
  await db?.close();
  await cluster?.stop();
});

describe('a replica that dies', () => {
  it('leaves reads succeeding on the primary, none waiting past the connect timeout', async () => {
    // Warm the replica's pool so there are connections to lose.
    await Promise.all(Array.from({ length: 5 }, () => serverId(db)));
    expect(await serverId(db)).toBe(replicaId);

    await cluster.replica(0).kill();
    const results = [];
    for (let i = 0; i < 30; i++) results.push(await timed(() => serverId(db)));
    const concurrent = await Promise.all(Array.from({ length: 10 }, () => timed(() => serverId(db))));
    for (const result of [...results, ...concurrent]) {
      expect(result.error).toBeUndefined();
      expect(result.value).toBe(primaryId);
      expect(result.ms).toBeLessThan(WAIT_BOUND_MS);
    }
    // The monitor takes the dead replica out of rotation, so reads stop trying it at all.
    const replicaName = cluster.dbNodes[1]?.name;
    await eventually(
      async () => db.topology().find((n) => n.name === replicaName)?.reason === 'unreachable',
      5_000,
      'the killed replica out of rotation as unreachable',
    );
  });

  it('gets its reads back once it is restarted', async () => {
    await cluster.replica(0).restart();
    await eventually(async () => (await serverId(db)) === replicaId, 15_000, 'reads back on the replica');
    for (let i = 0; i < 5; i++) expect(await serverId(db)).toBe(replicaId);
  });
});

describe('a primary that dies', () => {
  it('makes writes fail fast with the typed, retryable PrimaryUnavailableError', async () => {
    await db.execute('INSERT INTO events (at) VALUES (?)', [Date.now()]);
    await cluster.primary().kill();
    // Let the client see the sockets close, as it would on any real crash.
    await new Promise((resolve) => setTimeout(resolve, 100));
    for (let i = 0; i < 10; i++) {
      const result = await timed(() => db.execute('INSERT INTO events (at) VALUES (?)', [Date.now()]));
      expect(result.error).toBeInstanceOf(PrimaryUnavailableError);
      expect(result.error).toBeInstanceOf(RwsplitError);
      expect(result.error).toMatchObject({ code: 'RWSPLIT_PRIMARY_UNAVAILABLE', retryable: true });
      expect((result.error as RwsplitError).node).toBe(cluster.primary().name);
      expect(result.ms).toBeLessThan(WAIT_BOUND_MS);
    }
  });

  it('keeps reads on the replica going', async () => {
    expect(await serverId(db)).toBe(replicaId);
  });

  it('makes transactions fail fast too', async () => {
    const result = await timed(() => db.transaction(async (tx) => tx.execute('DELETE FROM events')));
    expect(result.error).toMatchObject({ code: 'RWSPLIT_PRIMARY_UNAVAILABLE', retryable: true });
    expect(result.ms).toBeLessThan(WAIT_BOUND_MS);
    for (const pool of db.pools()) expect(pool.used).toBe(0);
  });
});
