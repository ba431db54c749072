// A replica that stops answering (SIGSTOP: its sockets stay open, nothing comes back) under a steady read
// stream. Reads already on its connections must be abandoned at their deadline, cancelled on the server
// once it answers again, and retried elsewhere; none may fail and none may wait much past the deadline.
import { setTimeout as sleep } from 'node:timers/promises';
import { type Cluster, startCluster } from '@rwsplit/cluster';
import type { Router } from '@rwsplit/router';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, replicated, routerFor } from './support.js';

const READ_MS = 500;

let cluster: Cluster;
const routers: Router[] = [];

beforeAll(async () => {
  cluster = await startCluster({ monitoring: false, servers: 0, replicas: 1 });
  await cluster.primary().query('CREATE TABLE app.kv (id INT PRIMARY KEY, v INT NOT NULL)');
  await cluster.primary().query('INSERT INTO app.kv VALUES (1, 1), (2, 2), (3, 3)');
  await replicated(cluster.replica(0), 'kv');
});

afterAll(async () => {
  for (const router of routers) await router.close();
  await cluster?.stop();
});

interface Read {
  readonly ms: number;
  readonly error: string | undefined;
}

/** `loops` callers reading one after another until `stop` resolves; each read's latency and error. */
async function readStream(db: Router, loops: number, stop: Promise<void>): Promise<Read[]> {
  const reads: Read[] = [];
  let stopped = false;
  void stop.then(() => {
    stopped = true;
  });
  const loop = async () => {
    while (!stopped) {
      const started = performance.now();
      try {
        await db.query('SELECT v FROM app.kv WHERE id = ?', [1 + (reads.length % 3)]);
        reads.push({ ms: performance.now() - started, error: undefined });
      } catch (error) {
        reads.push({
          ms: performance.now() - started,
          error: (error as { code?: string }).code ?? String(error),
        });
      }
      await sleep(5);
    }
  };
  await Promise.all(Array.from({ length: loops }, loop));
  return reads;
}

/** Stops the replica for `ms` while `db` reads; resumes it and waits until it serves reads again. */
async function stallUnderReads(db: Router, ms: number): Promise<Read[]> {
  await db.ready();
  // Warm the replica's pool: the reads in flight at the stop sit on connections it already had.
  await Promise.all(Array.from({ length: 8 }, () => db.query('SELECT 1')));
  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  const stream = readStream(db, 8, stopped);
  await sleep(300);
  await cluster.replica(0).pause();
  try {
    await sleep(ms);
  } finally {
    await cluster.replica(0).resume();
  }
  stop();
  const reads = await stream;
  await eventually(
    async () => db.topology().find((n) => n.name === cluster.replica(0).name)?.inRotation === true,
    20_000,
    'the replica back in rotation',
  );
  return reads;
}

function summary(reads: readonly Read[]): string {
  const sorted = reads.map((r) => r.ms).sort((a, b) => a - b);
  const at = (q: number) =>
    Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0);
  const failed = reads.filter((r) => r.error !== undefined).length;
  return `${reads.length} reads, ${failed} failed, p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${at(1)} ms`;
}

describe('a SIGSTOPped replica under a steady read stream', () => {
  it('fails no read, and none waits much longer than one read deadline', async () => {
    const db = routerFor(cluster, {
      timeouts: { readMs: READ_MS, readTotalMs: 2_000 },
      pool: { max: 8, connectTimeoutMs: 1_000 },
    });
    routers.push(db);
    const reads = await stallUnderReads(db, 2_500);
    console.log(`stalled replica, readMs ${READ_MS}: ${summary(reads)}`);
    expect(reads.filter((r) => r.error !== undefined)).toEqual([]);
    // One abandoned attempt (READ_MS) plus the retry on the primary and scheduling on a busy box.
    expect(Math.max(...reads.map((r) => r.ms))).toBeLessThan(READ_MS + 700);
    expect(reads.length).toBeGreaterThan(100);
  });

  it('is what the check catches: with a read deadline longer than the stall, reads hang for all of it', async () => {
    const db = routerFor(cluster, {
      timeouts: { readMs: 10_000, readTotalMs: 20_000 },
      pool: { max: 8, connectTimeoutMs: 1_000 },
    });
    routers.push(db);
    const reads = await stallUnderReads(db, 2_500);
    console.log(`stalled replica, readMs 10000 (control): ${summary(reads)}`);
    // The reads in flight at the stop waited for the whole stall: the bound above would have failed.
    expect(Math.max(...reads.map((r) => r.ms))).toBeGreaterThan(2_000);
  });

  it('closes the sockets of abandoned reads at once, so close() during the stall leaves nothing open', async () => {
    const sockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
    const before = sockets();
    const db = routerFor(cluster, {
      timeouts: { readMs: 200, readTotalMs: 1_000, closeMs: 500 },
      pool: { max: 4, connectTimeoutMs: 500 },
    });
    await db.ready();
    await Promise.all(Array.from({ length: 4 }, () => db.query('SELECT 1')));
    await cluster.replica(0).pause();
    try {
      // Reads on the replica's pooled connections stall and are abandoned; the retries answer from the primary.
      const reads = await Promise.allSettled(Array.from({ length: 4 }, () => db.query('SELECT 1')));
      expect(reads.filter((r) => r.status === 'rejected')).toEqual([]);
      await db.close();
      // Still stalled: a half-closed socket would stay open until the replica answers.
      let open = sockets();
      for (let i = 0; i < 40 && open > before; i++) {
        await sleep(25);
        open = sockets();
      }
      expect(open).toBeLessThanOrEqual(before);
    } finally {
      await cluster.replica(0).resume();
    }
  });
});
