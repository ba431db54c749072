// Read-your-writes across app servers, end to end: a user writes through one server and reads through the
// other, over TLS through HAProxy, while the replica runs behind. What the consistency suites of every
// runtime share: the users, the pairs, the servers' own routing counters.
import type { Cluster } from '@rwsplit/cluster';
import { expect } from 'vitest';
import { CookieJar, LbClient } from './client.js';

/** How far behind the replica runs. */
const DELAY_MS = 2_000;
/**
 * The app's environment for these checks: the router's default lag limit (1 s) would take a replica 2 s
 * behind out of rotation, and every read, cookie or not, would go to the primary; this keeps it in
 * rotation so only the token protects reads (the notes app hands DB_LAG_MAX_MS to its router as `lag.maxMs`).
 */
export const LAGGING_REPLICA_STAYS_IN_ROTATION: Readonly<Record<string, string>> = { DB_LAG_MAX_MS: '10000' };

/** Lag that shows a 2 s delay is in effect (MASTER_DELAY's lag swings between about D-1 and D+1 s). */
const MIN_LAG_MS = 1_000;
/**
 * Users writing and reading at once: enough to finish in seconds, few enough for two busy cores. Odd on
 * purpose: round robin hands out servers in turn, so with an even number of users in step a user's next
 * request tends to land on the same server again, and reads would need many tries to cross over.
 */
const CONCURRENCY = 7;
/** Round robin interleaves the users' requests, so a read lands on the other server about every other try. */
const READ_TRIES = 20;

interface Note {
  readonly id: number;
  readonly title: string;
}

interface NodeView {
  readonly name: string;
  readonly lagMs: number | null;
  readonly inRotation: boolean;
  readonly reason: string | null;
}

export interface Status {
  readonly server: string;
  readonly topology: NodeView[];
  readonly routing: {
    readonly replicaReads: number;
    readonly primaryReads: number;
    readonly fallbacks: Record<string, number>;
    readonly waits: { readonly reached: number; readonly timedOut: number; readonly failed: number };
  };
}

/** Each server's own view (`/api/status` on the app's address), so both are asked, not whichever HAProxy picks. */
export async function statuses(cluster: Cluster): Promise<Status[]> {
  return Promise.all(
    cluster.servers.map(async (server) => {
      const reply = await new LbClient(server.app.url).get('/api/status');
      expect(reply.status).toBe(200);
      return reply.json<Status>();
    }),
  );
}

/** The delay is in effect: both servers see the replica well behind, and still reading from it. */
export async function waitUntilReplicaLagsInRotation(cluster: Cluster): Promise<void> {
  const deadline = Date.now() + 20_000;
  let seen = '';
  while (Date.now() < deadline) {
    const replicas = (await statuses(cluster)).map((s) =>
      s.topology.find((node) => node.name === 'db-replica-1'),
    );
    seen = JSON.stringify(replicas);
    if (replicas.every((node) => node?.inRotation && (node.lagMs ?? 0) >= MIN_LAG_MS)) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(
    `db-replica-1 never ran ${MIN_LAG_MS}+ ms behind while in rotation on both servers: ${seen}`,
  );
}

/** What one write-then-read pair saw. */
export interface Pair {
  readonly stale: boolean;
  /** The read reached the server the write did not. */
  readonly crossed: boolean;
  /** `X-DB-Node` of each read of the pair. */
  readonly readNodes: string[];
}

/**
 * A user's write (create, or rename of their last note) through whichever server HAProxy picks, then a
 * read of it, retried until it lands on the other server. Every read is checked, not only the last.
 */
function user(client: LbClient) {
  let last: Note | undefined;
  return async (index: number): Promise<Pair> => {
    const write =
      last === undefined || index % 2 === 0
        ? await client.post('/api/notes', { title: `pair ${index}` })
        : await client.patch(`/api/notes/${last.id}`, { title: `pair ${index} renamed` });
    expect([200, 201], write.body).toContain(write.status);
    const written = write.json<Note>();
    last = written;

    let stale = false;
    let crossed = false;
    const readNodes: string[] = [];
    for (let tries = 0; tries < READ_TRIES && !crossed; tries++) {
      const read = await client.get(`/api/notes/${written.id}`);
      expect([200, 404], read.body).toContain(read.status);
      if (read.status === 404 || read.json<Note>().title !== written.title) stale = true;
      readNodes.push(read.dbNode ?? '?');
      crossed = read.servedBy !== write.servedBy;
    }
    return { stale, crossed, readNodes };
  };
}

/** `pairs` pairs over `CONCURRENCY` users, each with its own client (and jar, when `cookies`). */
export async function runPairs(cluster: Cluster, pairs: number, cookies: boolean): Promise<Pair[]> {
  const lb = LbClient.forCluster(cluster);
  const users = Array.from({ length: CONCURRENCY }, () => user(cookies ? lb.withJar(new CookieJar()) : lb));
  const perUser = Math.ceil(pairs / CONCURRENCY);
  const results = await Promise.all(
    users.map(async (run, u) => {
      const out: Pair[] = [];
      for (let i = 0; i < perUser && u * perUser + i < pairs; i++) out.push(await run(i));
      return out;
    }),
  );
  return results.flat();
}

export function summary(pairs: Pair[]) {
  const byNode: Record<string, number> = {};
  for (const node of pairs.flatMap((pair) => pair.readNodes)) byNode[node] = (byNode[node] ?? 0) + 1;
  return {
    pairs: pairs.length,
    crossed: pairs.filter((pair) => pair.crossed).length,
    stale: pairs.filter((pair) => pair.stale).length,
    readsByNode: byNode,
  };
}

/**
 * Session reads the lagging replica could not serve at once: those that waited for it (`waits`, whether
 * the replica caught up or not) and those sent to the primary (`replica behind session`). A wait that
 * timed out is also a fallback, so the larger of the two is a lower bound that counts none twice.
 */
export function protectedReads(all: Status[]): number {
  let sum = 0;
  for (const { routing } of all) {
    const waited = routing.waits.reached + routing.waits.timedOut;
    sum += Math.max(waited, routing.fallbacks['replica behind session'] ?? 0);
  }
  return sum;
}

/** The replica 2 s behind, and both servers' routers seeing it so while still reading from it. */
export async function delayTheReplica(cluster: Cluster): Promise<void> {
  await cluster.replica(0).delayReplication(DELAY_MS);
  await waitUntilReplicaLagsInRotation(cluster);
}

/** With the cookie, no read through the other server misses the user's write, and the routers protected each. */
export async function expectNoStaleReadsWithCookie(cluster: Cluster, count: number): Promise<void> {
  const before = protectedReads(await statuses(cluster));
  const pairs = await runPairs(cluster, count, true);
  const seen = summary(pairs);
  console.log('with cookie:', JSON.stringify(seen));

  expect(seen.pairs).toBe(count);
  // A bounded retry almost always reaches the other server; a handful may not, none should be stale.
  expect(seen.crossed).toBeGreaterThanOrEqual(count * 0.95);
  expect(seen.stale).toBe(0);

  // The routers protected those reads: each waited for the replica or read from the primary.
  const after = await statuses(cluster);
  console.log(
    'routing after cookie pairs:',
    JSON.stringify(after.map((s) => ({ server: s.server, ...s.routing }))),
  );
  expect(protectedReads(after) - before).toBeGreaterThanOrEqual(count);
  await expectMetricsMatchStatus(cluster, after);
}

/**
 * The sum of one metric's samples in a Prometheus exposition, over the series whose labels include
 * `label` (`name="value"`, as the exporter writes it) when given. A metric with no series sums to 0:
 * the exporter leaves out a counter nothing has added to yet.
 */
export function exposedSum(exposition: string, metric: string, label?: string): number {
  let sum = 0;
  for (const line of exposition.split('\n')) {
    if (!line.startsWith(`${metric}{`) && !line.startsWith(`${metric} `)) continue;
    const labels = line.startsWith(`${metric}{`) ? line.slice(metric.length + 1, line.lastIndexOf('}')) : '';
    if (label !== undefined && !labels.split(/,(?=[a-z_]+=")/).includes(label)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/**
 * What each server scrapes out on `/metrics` is what its status counted: the waits and the reads sent to
 * the primary for a session, series by series summed, on the server that did them. (The protected reads
 * fall to either server, and either kind, as timing has it: a server with none shows none.)
 */
async function expectMetricsMatchStatus(cluster: Cluster, all: Status[]): Promise<void> {
  for (const [index, { server, routing }] of all.entries()) {
    const metrics = await new LbClient(cluster.server(index).app.url).get('/metrics');
    expect(metrics.status).toBe(200);
    const waits = routing.waits.reached + routing.waits.timedOut + routing.waits.failed;
    const fallbacks = routing.fallbacks['replica behind session'] ?? 0;
    expect({
      server,
      waits: exposedSum(metrics.body, 'rwsplit_consistency_waits_total'),
      fallbacks: exposedSum(
        metrics.body,
        'rwsplit_routing_decisions_total',
        'rwsplit_fallback="replica behind session"',
      ),
    }).toEqual({ server, waits, fallbacks });
  }
}

/** Without the cookie, reads through the other server miss writes: the check above can fail. */
export async function expectStaleReadsWithoutCookie(cluster: Cluster, count: number): Promise<void> {
  const pairs = await runPairs(cluster, count, false);
  const seen = summary(pairs);
  console.log('without cookie:', JSON.stringify(seen));

  expect(seen.pairs).toBe(count);
  expect(seen.stale).toBeGreaterThanOrEqual(1);
  // Reads without a token go to the replica, which has not applied the write yet.
  expect(seen.readsByNode['db-replica-1'] ?? 0).toBeGreaterThanOrEqual(1);
}
