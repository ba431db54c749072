// Read-your-writes across app servers, end to end: a user writes through one server and reads through
// the other, over TLS through HAProxy, while the replica runs 2 s behind. With the consistency cookie
// the read sees the write (the router waits for the replica or reads from the primary); without it the
// read goes to the lagging replica and misses the write.
import { type Cluster, startCluster } from '@rwsplit/cluster';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NOTES_APP } from '../support/notes-app.js';
import { CookieJar, LbClient } from './support/client.js';

const DELAY_MS = 2_000;
/** Lag that shows the delay is in effect (MASTER_DELAY's lag swings between about D-1 and D+1 s). */
const MIN_LAG_MS = 1_000;
const COOKIE_PAIRS = 500;
const COOKIELESS_PAIRS = 50;
/**
 * Users writing and reading at once: enough to finish in seconds, few enough for two busy cores. Odd on
 * purpose: round robin hands out servers in turn, so with an even number of users in step a user's next
 * request tends to land on the same server again, and reads would need many tries to cross over.
 */
const CONCURRENCY = 7;
/** Round robin interleaves the users' requests, so a read lands on the other server about every other try. */
const READ_TRIES = 20;

let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster({
    monitoring: false,
    servers: 2,
    replicas: 1,
    // The router's default lag limit (1 s) would take a replica 2 s behind out of rotation, and every
    // read, cookie or not, would go to the primary: keep it in rotation so only the token protects reads.
    // The notes app hands DB_LAG_MAX_MS to its router as `lag.maxMs`.
    app: { ...NOTES_APP, env: { DB_LAG_MAX_MS: '10000' } },
  });
  await cluster.replica(0).delayReplication(DELAY_MS);
  await waitUntilReplicaLagsInRotation();
});

afterAll(async () => {
  await cluster?.stop();
});

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

interface Status {
  readonly server: string;
  readonly topology: NodeView[];
  readonly routing: {
    readonly replicaReads: number;
    readonly primaryReads: number;
    readonly fallbacks: Record<string, number>;
    readonly waits: { readonly reached: number; readonly timedOut: number };
  };
}

/** Each server's own view (`/api/status` on the app's address), so both are asked, not whichever HAProxy picks. */
async function statuses(): Promise<Status[]> {
  return Promise.all(
    cluster.servers.map(async (server) => {
      const reply = await new LbClient(server.app.url).get('/api/status');
      expect(reply.status).toBe(200);
      return reply.json<Status>();
    }),
  );
}

/** The delay is in effect: both servers see the replica well behind, and still reading from it. */
async function waitUntilReplicaLagsInRotation(): Promise<void> {
  const deadline = Date.now() + 20_000;
  let seen = '';
  while (Date.now() < deadline) {
    const replicas = (await statuses()).map((s) => s.topology.find((node) => node.name === 'db-replica-1'));
    seen = JSON.stringify(replicas);
    if (replicas.every((node) => node?.inRotation && (node.lagMs ?? 0) >= MIN_LAG_MS)) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(
    `db-replica-1 never ran ${MIN_LAG_MS}+ ms behind while in rotation on both servers: ${seen}`,
  );
}

/** What one write-then-read pair saw. */
interface Pair {
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
async function runPairs(pairs: number, cookies: boolean): Promise<Pair[]> {
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

function summary(pairs: Pair[]) {
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
function protectedReads(all: Status[]): number {
  let sum = 0;
  for (const { routing } of all) {
    const waited = routing.waits.reached + routing.waits.timedOut;
    sum += Math.max(waited, routing.fallbacks['replica behind session'] ?? 0);
  }
  return sum;
}

describe('read-your-writes across servers while the replica is 2 s behind', () => {
  it(`never reads stale data through the other server with the cookie (${COOKIE_PAIRS} pairs)`, async () => {
    const before = protectedReads(await statuses());
    const pairs = await runPairs(COOKIE_PAIRS, true);
    const seen = summary(pairs);
    console.log('with cookie:', JSON.stringify(seen));

    expect(seen.pairs).toBe(COOKIE_PAIRS);
    // A bounded retry almost always reaches the other server; a handful may not, none should be stale.
    expect(seen.crossed).toBeGreaterThanOrEqual(COOKIE_PAIRS * 0.95);
    expect(seen.stale).toBe(0);

    // The routers protected those reads: each waited for the replica or read from the primary.
    const after = await statuses();
    console.log(
      'routing after cookie pairs:',
      JSON.stringify(after.map((s) => ({ server: s.server, ...s.routing }))),
    );
    expect(protectedReads(after) - before).toBeGreaterThanOrEqual(COOKIE_PAIRS);
    const metrics = await new LbClient(cluster.server(0).app.url).get('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain('rwsplit_consistency_waits');
  }, 120_000);

  it(`reads stale data through the other server without the cookie (${COOKIELESS_PAIRS} pairs)`, async () => {
    const pairs = await runPairs(COOKIELESS_PAIRS, false);
    const seen = summary(pairs);
    console.log('without cookie:', JSON.stringify(seen));

    expect(seen.pairs).toBe(COOKIELESS_PAIRS);
    expect(seen.stale).toBeGreaterThanOrEqual(1);
    // Reads without a token go to the replica, which has not applied the write yet.
    expect(seen.readsByNode['db-replica-1'] ?? 0).toBeGreaterThanOrEqual(1);
  }, 60_000);
});
