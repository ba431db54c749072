// A database replica that stops answering (SIGSTOP, or a frozen container), as a client of the whole stack
// sees it: HAProxy (TLS) → Nginx → notes app → MariaDB. Without statement deadlines every GET in flight on
// the replica waited for Nginx's 30 s 504; with the notes app's deadlines (1 s per read attempt, then the
// primary) no request may fail and none may wait longer than 3 s. Shared by the runtimes' suites.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Cluster } from '@rwsplit/cluster';
import { expect } from 'vitest';
import { LbClient } from './client.js';

const STALL_MS = 4_000;
const WORST_MS = 3_000;

interface Get {
  readonly ms: number;
  readonly status: number | undefined;
  readonly dbNode: string | undefined;
  readonly error: string | undefined;
}

async function get(lb: LbClient, path: string): Promise<Get> {
  const started = performance.now();
  try {
    const reply = await lb.get(path);
    return { ms: performance.now() - started, status: reply.status, dbNode: reply.dbNode, error: undefined };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { ms: performance.now() - started, status: undefined, dbNode: undefined, error: message };
  }
}

/** What the check needs of a deployment: its front door, a replica to freeze, and how X-DB-Node names the primary. */
export interface StallTarget {
  readonly lb: LbClient;
  pause(): Promise<void> | void;
  resume(): Promise<void> | void;
  /** The primary's `X-DB-Node` (the app's name for it): reads must move there during the stall. */
  readonly primary: string;
}

/** A stream of GETs of one note while the first replica is paused for 4 s: none fails, none waits 3 s. */
export async function expectStalledReplicaServed(cluster: Cluster): Promise<void> {
  const replica = cluster.replica(0);
  await expectStallServed({
    lb: LbClient.forCluster(cluster),
    pause: () => replica.pause(),
    resume: () => replica.resume(),
    primary: 'db-primary',
  });
}

/** The same check on any deployment (the rendered hosts' too). */
export async function expectStallServed(target: StallTarget): Promise<void> {
  const { lb } = target;
  const created = await lb.post('/api/notes', { title: 'read while the replica is stopped' });
  expect(created.status).toBe(201);
  const { id } = created.json<{ id: number }>();
  // Readable without a token (from the replica) before the fault starts.
  for (let i = 0; i < 100; i++) {
    if ((await get(lb, `/api/notes/${id}`)).status === 200) break;
    await sleep(50);
  }
  const gets: Get[] = [];
  let stopped = false;
  const loop = async () => {
    while (!stopped) {
      gets.push(await get(lb, `/api/notes/${id}`));
      await sleep(20);
    }
  };
  const loops = Array.from({ length: 6 }, loop);
  await sleep(500);
  const before = gets.length;
  await target.pause();
  try {
    await sleep(STALL_MS);
  } finally {
    await target.resume();
  }
  await sleep(500);
  stopped = true;
  await Promise.all(loops);

  const during = gets.slice(before);
  const failed = gets.filter((g) => g.status !== 200);
  const worst = Math.max(...gets.map((g) => g.ms));
  const byNode: Record<string, number> = {};
  for (const g of during) byNode[g.dbNode ?? '?'] = (byNode[g.dbNode ?? '?'] ?? 0) + 1;
  console.log(
    `stalled replica through the stack: ${gets.length} GETs (${during.length} from the stop on, by DB node ${JSON.stringify(byNode)}), ` +
      `${failed.length} failed, worst ${Math.round(worst)} ms; slowest ${JSON.stringify(
        [...gets]
          .sort((a, b) => b.ms - a.ms)
          .slice(0, 5)
          .map((g) => [Math.round(g.ms), g.dbNode]),
      )}`,
  );
  expect(failed).toEqual([]);
  expect(worst).toBeLessThan(WORST_MS);
  // The stream kept going through the stall: reads moved to the primary.
  expect(byNode[target.primary] ?? 0).toBeGreaterThan(10);
}
