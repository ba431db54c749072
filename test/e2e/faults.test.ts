// App-server faults through the whole stack, as a client sees them: HAProxy (TLS) → Nginx → notes app →
// MariaDB. One app is killed, or both are restarted one after the other, under a steady stream of
// requests, each on a fresh connection so that each is balanced on its own. Reads must never fail
// (HAProxy retries safe methods elsewhere); a write is either acknowledged and stored once, or reported
// as an error, never stored twice.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Cluster, startCluster } from '@rwsplit/cluster';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchText } from '../support/https.js';
import { NOTES_APP } from '../support/notes-app.js';
import { LbClient, type SendOptions } from './support/client.js';

const WAIT_TIMEOUT_MS = 20_000;

let cluster: Cluster;
// No cookie jar: each request is a new visitor, so reads go to the replica unless given a token.
let lb: LbClient;

beforeAll(async () => {
  cluster = await startCluster({ monitoring: false, servers: 2, replicas: 1, app: NOTES_APP });
  lb = LbClient.forCluster(cluster);
});

afterAll(async () => {
  await cluster?.stop();
});

interface Note {
  readonly id: number;
  readonly title: string;
}

/** One request of a stream. `status` is undefined when no answer came (reset, refused, timeout). */
interface Outcome {
  readonly startedAt: number;
  readonly status: number | undefined;
  readonly servedBy: string | undefined;
  readonly error: string | undefined;
  readonly body: string;
}

interface PostOutcome extends Outcome {
  readonly title: string;
  /** The note's id when the POST was acknowledged (201). */
  readonly id: number | undefined;
}

/** Sends one request and records how it ended; never throws. */
async function attempt(path: string, options: SendOptions = {}): Promise<Outcome> {
  const startedAt = Date.now();
  try {
    const reply = await lb.send(path, options);
    return { startedAt, status: reply.status, servedBy: reply.servedBy, error: undefined, body: reply.body };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { startedAt, status: undefined, servedBy: undefined, error: message, body: '' };
  }
}

async function postNote(title: string): Promise<PostOutcome> {
  const outcome = await attempt('/api/notes', {
    method: 'POST',
    json: { title, body: 'written under faults' },
  });
  const id = outcome.status === 201 ? (JSON.parse(outcome.body) as Note).id : undefined;
  return { ...outcome, title, id };
}

/** Creates a note and waits until a plain read (no token: the replica) finds it. */
async function readableNote(title: string): Promise<Note> {
  const created = await lb.post('/api/notes', { title });
  expect(created.status).toBe(201);
  const note = created.json<Note>();
  await until(`note ${note.id} to be readable without a token`, async () =>
    (await lb.get(`/api/notes/${note.id}`)).status === 200 ? true : undefined,
  );
  return note;
}

interface Stream<T extends Outcome> {
  readonly results: readonly T[];
  /** Set once the stream sent its `max` requests: waiting on it for more would only time out. */
  readonly exhausted: boolean;
  /** Lets the requests in flight finish, sends no more, returns every outcome. */
  stop(): Promise<readonly T[]>;
}

/**
 * `loops` concurrent loops, each with one request in flight, starting one at most every `intervalMs`,
 * until stopped or `max` requests were sent in all (a bound, not a target: pace keeps it far off).
 */
function stream<T extends Outcome>(
  loops: number,
  intervalMs: number,
  max: number,
  send: (n: number) => Promise<T>,
): Stream<T> {
  const results: T[] = [];
  let sent = 0;
  let stopped = false;
  const loop = async () => {
    while (!stopped && sent < max) {
      const pace = sleep(intervalMs);
      results.push(await send(sent++));
      await pace;
    }
  };
  const running = Array.from({ length: loops }, loop);
  return {
    results,
    get exhausted() {
      return sent >= max;
    },
    stop: async () => {
      stopped = true;
      await Promise.all(running);
      return results;
    },
  };
}

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  stream?: Stream<Outcome>,
): Promise<T> {
  const deadline = Date.now() + WAIT_TIMEOUT_MS;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (stream?.exhausted) throw new Error(`the request stream hit its cap before ${what}: raise its max`);
    if (Date.now() > deadline) throw new Error(`timed out after ${WAIT_TIMEOUT_MS} ms waiting for ${what}`);
    await sleep(50);
  }
}

async function untilBackend(name: string, status: string): Promise<void> {
  await until(`HAProxy to see ${name} ${status}`, async () =>
    (await cluster.backendStates()).some((b) => b.name === name && b.status === status) ? true : undefined,
  );
}

async function untilAllUp(): Promise<void> {
  await until('HAProxy to see every server UP', async () =>
    (await cluster.backendStates()).every((b) => b.status === 'UP') ? true : undefined,
  );
}

/** Waits until `results` holds at least `count` requests started at or after `since`, and `minMs` passed. */
async function untilTail(
  stream: Stream<Outcome>,
  since: number,
  count: number,
  minMs: number,
): Promise<void> {
  await until(
    `${count} requests and ${minMs} ms after ${new Date(since).toISOString()}`,
    () =>
      Date.now() - since >= minMs && startedFrom(stream.results, since).length >= count ? true : undefined,
    stream,
  );
}

/** Waits until requests started at or after `since` were answered by both servers, and `minMs` passed. */
async function untilBothServe(stream: Stream<Outcome>, since: number, minMs: number): Promise<void> {
  await until(
    'both servers to answer the stream',
    () => {
      const servers = new Set(startedFrom(stream.results, since).map((r) => r.servedBy));
      return Date.now() - since >= minMs && servers.has('server-1') && servers.has('server-2')
        ? true
        : undefined;
    },
    stream,
  );
}

function startedFrom<T extends Outcome>(results: readonly T[], since: number): T[] {
  return results.filter((r) => r.startedAt >= since);
}

function perServer(results: readonly Outcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of results) {
    const key = r.servedBy ?? 'no answer';
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/** How requests ended, e.g. `{"502 by server-1": 3}`, for the log. */
function tally(results: readonly Outcome[]): string {
  const counts: Record<string, number> = {};
  for (const r of results) {
    const key = `${r.status ?? r.error} by ${r.servedBy ?? '?'}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return JSON.stringify(counts);
}

/** One request for an assertion message, timed from the fault. */
function brief(r: Outcome, faultAt: number): string {
  return `${r.status ?? r.error} by ${r.servedBy ?? '?'}, started ${r.startedAt - faultAt} ms after the fault`;
}

/** Restarts whatever app is down and waits until HAProxy has both servers back in rotation. */
async function restoreServers(): Promise<void> {
  for (const server of cluster.servers) if (!server.app.running) await server.app.restart();
  await untilAllUp();
}

/** HAProxy's own count of retries and redispatches in the app backend, from its Prometheus exporter. */
async function haproxyRetries(): Promise<{ retries: number; redispatches: number }> {
  const text = (await fetchText(cluster.lb.prometheusUrl, { ca: cluster.lb.certificatePem })).body;
  const sum = (metric: string) =>
    text
      .split('\n')
      .filter((line) => line.startsWith(`${metric}{`) && line.includes('proxy="app"'))
      .reduce((total, line) => total + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
  return {
    retries: sum('haproxy_backend_retry_warnings_total'),
    redispatches: sum('haproxy_backend_redispatch_warnings_total'),
  };
}

/** Every note, newest first, as of `token` (a token from a write made after every write to check). */
async function listAllNotes(token: string): Promise<Note[]> {
  const notes: Note[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 100; page++) {
    const query: string = cursor === null ? '' : `&before=${encodeURIComponent(cursor)}`;
    // The token makes either server read at least up to it (from the replica once it caught up).
    const reply = await lb.get(`/api/notes?limit=100${query}`, { headers: { 'x-consistency-token': token } });
    expect(reply.status, reply.body).toBe(200);
    const body = reply.json<{ notes: Note[]; next: string | null }>();
    notes.push(...body.notes);
    cursor = body.next;
    if (cursor === null) return notes;
  }
  throw new Error('more than 100 pages of notes');
}

/**
 * Lists every note through the LB, reading at least up to a write made now, and checks the POSTs
 * against it: an acknowledged one exists exactly once with its id, one reported as an error at most
 * once. Returns how many of those errors were stored anyway (the write's outcome was unknown).
 */
async function checkStored(posts: readonly PostOutcome[]): Promise<number> {
  const marker = await lb.post('/api/notes', { title: `marker-${Date.now()}` });
  expect(marker.status).toBe(201);
  const token = marker.header('x-consistency-token');
  expect(token).toBeDefined();
  const idsByTitle = new Map<string, number[]>();
  for (const note of await listAllNotes(token ?? '')) {
    idsByTitle.set(note.title, [...(idsByTitle.get(note.title) ?? []), note.id]);
  }
  let storedAfterError = 0;
  for (const post of posts) {
    const ids = idsByTitle.get(post.title) ?? [];
    if (post.id !== undefined) {
      expect(ids, `acknowledged ${post.title}`).toEqual([post.id]);
    } else {
      expect(ids.length, `failed ${post.title}`).toBeLessThanOrEqual(1);
      storedAfterError += ids.length;
    }
  }
  return storedAfterError;
}

/** How many graceful shutdowns the app's log records (it appends across restarts). */
function gracefulShutdowns(logFile: string): number {
  return readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((line) => line.includes('"msg":"shutdown complete"')).length;
}

describe('app server faults through HAProxy over TLS', () => {
  it('takes a SIGKILLed app out of rotation while 0 of a stream of GETs fail', async () => {
    const started = Date.now();
    const note = await readableNote('kill-get-target');
    const retriesBefore = await haproxyRetries();
    const gets = stream(4, 20, 2_000, () => attempt(`/api/notes/${note.id}`));
    try {
      await untilBothServe(gets, Date.now(), 1_000);
      const killedAt = Date.now();
      await cluster.server(0).app.kill();
      await untilBackend('server-1', 'DOWN');
      const downAt = Date.now();
      await untilTail(gets, downAt, 40, 2_000);
      const results = await gets.stop();
      const retries = await haproxyRetries();

      const failed = results.filter((r) => r.status !== 200);
      const tail = startedFrom(results, downAt);
      console.log(
        `kill under GETs: ${results.length} GETs, per server ${JSON.stringify(perServer(results))}, ` +
          `failed ${failed.length} ${tally(failed)}; server-1 DOWN in HAProxy ${downAt - killedAt} ms ` +
          `after SIGKILL; ${tail.length} GETs after that, per server ${JSON.stringify(perServer(tail))}; ` +
          `HAProxy retries ${retries.retries - retriesBefore.retries}, ` +
          `redispatches ${retries.redispatches - retriesBefore.redispatches}`,
      );
      expect(failed.map((r) => brief(r, killedAt))).toEqual([]);
      expect(new Set(tail.map((r) => r.servedBy))).toEqual(new Set(['server-2']));
    } finally {
      await gets.stop();
      await restoreServers();
      console.log(`kill under GETs: ${Date.now() - started} ms with the restore`);
    }
  });

  it('reports POSTs that met the SIGKILLed app as errors and never stores one twice', async () => {
    const started = Date.now();
    const posts = stream(3, 20, 1_500, (n) => postNote(`kill-post-${n}`));
    try {
      await untilBothServe(posts, Date.now(), 1_000);
      const killedAt = Date.now();
      await cluster.server(0).app.kill();
      await untilBackend('server-1', 'DOWN');
      const downAt = Date.now();
      await untilTail(posts, downAt, 20, 1_500);
      const results = await posts.stop();
      await restoreServers();

      const acked = results.filter((r) => r.status === 201);
      const failed = results.filter((r) => r.status === undefined || r.status >= 500);
      const unexpected = results.filter((r) => r.status !== undefined && r.status !== 201 && r.status < 500);
      const storedAfterError = await checkStored(results);
      console.log(
        `kill under POSTs: ${results.length} POSTs, per server ${JSON.stringify(perServer(results))}; ` +
          `acknowledged ${acked.length}, failed ${failed.length} ${tally(failed)}, ` +
          `failed yet stored ${storedAfterError}; server-1 DOWN in HAProxy ${downAt - killedAt} ms after SIGKILL`,
      );
      expect(unexpected.map((r) => brief(r, killedAt))).toEqual([]);
      // Nginx reports the dead app in the API's error shape, saying the write's fate is unknown.
      for (const r of failed.filter((f) => f.status === 502)) {
        expect(JSON.parse(r.body), brief(r, killedAt)).toMatchObject({ error: { code: 'app_failed' } });
      }
      expect(new Set(startedFrom(results, downAt).map((r) => r.servedBy))).toEqual(new Set(['server-2']));
    } finally {
      await posts.stop();
      await restoreServers();
      console.log(`kill under POSTs: ${Date.now() - started} ms with the restore`);
    }
  });

  it('rolls a restart through both servers (SIGTERM, restart) with 0 failed GETs or POSTs', async () => {
    const started = Date.now();
    const note = await readableNote('rolling-get-target');
    const gets = stream(3, 40, 4_000, () => attempt(`/api/notes/${note.id}`));
    const posts = stream(1, 40, 1_200, (n) => postNote(`rolling-post-${n}`));
    const steps: string[] = [];
    try {
      await untilBothServe(gets, Date.now(), 1_000);
      const rollStartedAt = Date.now();
      for (const server of cluster.servers) {
        const log = join(cluster.stateDir, server.name, 'app.log');
        const shutdownsBefore = gracefulShutdowns(log);
        const termAt = Date.now();
        await server.app.terminate();
        const exitedAt = Date.now();
        expect(server.app.running).toBe(false);
        expect(server.app.exitStatus).toEqual({ code: 0, signal: null });
        // The app logs this right before exit(0); a SIGKILL at the end of the grace period would not.
        expect(gracefulShutdowns(log)).toBe(shutdownsBefore + 1);
        await server.app.restart();
        await untilAllUp();
        const upAt = Date.now();
        await untilBothServe(gets, upAt, 0);
        steps.push(
          `${server.name} exited ${exitedAt - termAt} ms after SIGTERM, UP again ${upAt - exitedAt} ms later`,
        );
      }
      const backAt = Date.now();
      await untilTail(gets, backAt, 10, 1_000);
      const [getResults, postResults] = await Promise.all([gets.stop(), posts.stop()]);

      const failed = [...getResults, ...postResults].filter(
        (r) => r.status === undefined || r.status < 200 || r.status > 299,
      );
      const acked = postResults.filter((r) => r.status === 201);
      console.log(
        `rolling restart: ${steps.join('; ')}; ${getResults.length} GETs, ` +
          `per server ${JSON.stringify(perServer(getResults))}; ${postResults.length} POSTs, ` +
          `per server ${JSON.stringify(perServer(postResults))}, acknowledged ${acked.length}; ` +
          `failed ${failed.length} ${tally(failed)}`,
      );
      expect(failed.map((r) => brief(r, rollStartedAt))).toEqual([]);
      // The POST stream ran through the whole roll, not only before it.
      expect(startedFrom(postResults, backAt).length).toBeGreaterThan(0);
      expect(await checkStored(postResults)).toBe(0);
    } finally {
      await Promise.all([gets.stop(), posts.stop()]);
      await restoreServers();
      console.log(`rolling restart: ${Date.now() - started} ms with the restore`);
    }
  });
});
