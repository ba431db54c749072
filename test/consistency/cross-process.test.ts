import { randomBytes } from 'node:crypto';
import { type Cluster, startCluster } from '@rwsplit/cluster';
import type { Router } from '@rwsplit/router';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MONITOR_INTERVAL_MS,
  replicatedEverywhere,
  routerConfig,
  routerFor,
  untilStatus,
} from './support/cluster-router.js';
import { CookieJar, expectStatus, type PairsApp, startPairsApp } from './support/express-apps.js';
import {
  appliedEverywhere,
  INSERT_PAIR,
  idSequence,
  PAIRS_DDL,
  type ReadBack,
  Tally,
} from './support/read-back.js';
import { ReaderProcess } from './support/reader-process.js';
import { corruptToken, farFuture, mariadbToken, parseMariaDbToken } from './support/tokens.js';
import { inParallel, sleep, until } from './support/wait.js';

// The replica runs 2 s behind and stays in rotation (maxMs is above the delay), so a read that ignores
// the writer's position misses the row. Writes happen here (router A); reads happen in other routers,
// first in a child process (B), then through two Express apps, each its own process.
const DELAY_MS = 2_000;
const LAG = { maxMs: 10_000, readmitAfterMs: 500 };
const PAIRS = 200;
const CONCURRENCY = 10;
// App servers share a signing secret, as a deployment would.
const SECRET = randomBytes(24).toString('hex');
const SIGNED = { lag: LAG, consistency: { mode: 'session', waitMs: 50, secret: SECRET } } as const;
const COOKIE = 'rwsplit_ct';
const TOKEN_HEADER = 'x-consistency-token';

let cluster: Cluster;
let primaryId: number;
const routers: Router[] = [];
const nextId = idSequence();

beforeAll(async () => {
  cluster = await startCluster({ monitoring: false, servers: 0, replicas: 1 });
  primaryId = cluster.primary().serverId;
  await cluster.primary().query(PAIRS_DDL);
  await replicatedEverywhere(cluster, 'pairs');
  await cluster.replica(0).delayReplication(DELAY_MS);
}, 120_000);

afterAll(async () => {
  for (const router of routers) await router.close();
  await cluster?.stop();
});

/** A started router whose view has the replica serving reads while it lags. */
async function laggingRouter(overrides: Parameters<typeof routerFor>[1]): Promise<Router> {
  const db = routerFor(cluster, overrides);
  routers.push(db);
  await db.ready();
  await untilStatus(
    db,
    cluster.replica(0),
    (s) => s.inRotation && (s.lagMs ?? 0) >= 500,
    'in rotation and lagging',
  );
  return db;
}

/** Writes pair `id` in a fresh session and returns the session's token. */
async function writeForToken(db: Router, id: number): Promise<string> {
  const session = db.session();
  try {
    await session.execute(INSERT_PAIR, [id, 'router A']);
    const token = session.token();
    if (token === undefined) throw new Error('no token after a write');
    return token;
  } finally {
    session.release();
  }
}

describe('tokens across processes', () => {
  let writer: Router;
  let reader: ReaderProcess | undefined;

  beforeAll(async () => {
    writer = await laggingRouter(SIGNED);
    reader = await ReaderProcess.start(routerConfig(cluster, SIGNED));
    await until(
      async () => {
        const replica = (await reader?.topology())?.find((s) => s.name === cluster.replica(0).name);
        return replica?.inRotation === true && (replica.lagMs ?? 0) >= 500;
      },
      { timeoutMs: 15_000, what: "the replica in rotation and lagging in the reader's router" },
    );
  }, 60_000);

  afterAll(async () => {
    await reader?.stop();
  });

  it('read every write back in another process from its token: no stale read in 200 pairs', async () => {
    const tally = new Tally();
    await inParallel(PAIRS, CONCURRENCY, async () => {
      const id = nextId();
      const token = await writeForToken(writer, id);
      tally.add(await (reader as ReaderProcess).read(id, token));
    });
    console.log(`cross-process, token: ${tally.describe(cluster)}`);
    expect(tally.total).toBe(PAIRS);
    expect(tally.stale, tally.describe(cluster)).toBe(0);
  }, 60_000);

  it('let the checker see stale reads in the other process when it ignores the token', async () => {
    const tally = new Tally();
    await inParallel(50, CONCURRENCY, async () => {
      const id = nextId();
      await writeForToken(writer, id);
      tally.add(await (reader as ReaderProcess).read(id, undefined, 'eventual'));
    });
    console.log(`cross-process, no token, eventual: ${tally.describe(cluster)}`);
    // Why no read reached the replica, if none did: the reader's own view of it.
    const view = (await (reader as ReaderProcess).topology()).find((s) => s.name === cluster.replica(0).name);
    expect(tally.stale, JSON.stringify(view)).toBeGreaterThan(0);
  }, 60_000);

  it('serve a resumed session from the replica once it has applied the token', async () => {
    const id = nextId();
    const token = await writeForToken(writer, id);
    await appliedEverywhere(cluster, id);
    await sleep(2 * MONITOR_INTERVAL_MS);
    expect(await (reader as ReaderProcess).read(id, token)).toEqual({
      serverId: cluster.replica(0).serverId,
      found: true,
    });
  }, 30_000);

  it('serve a read with a corrupt or forged token from the primary, without an error', async () => {
    const id = nextId();
    const token = await writeForToken(writer, id);
    // Our forger speaks the router's format: it re-creates the very token the router minted.
    const parsed = parseMariaDbToken(token);
    expect(parsed?.signed).toBe(true);
    const gtids = parsed?.gtids ?? [];
    expect(mariadbToken(gtids, SECRET)).toBe(token);

    const forged: Record<string, string> = {
      'one character changed': corruptToken(token),
      truncated: token.slice(0, -3),
      'unsigned, far-future position': mariadbToken(farFuture(gtids)),
      'signed with another secret': mariadbToken(farFuture(gtids), randomBytes(24).toString('hex')),
      'not a token': 'v2.%%%not-a-token',
    };
    for (const [label, text] of Object.entries(forged)) {
      const read = await (reader as ReaderProcess).read(id, text).catch((error: Error) => error);
      expect(read, label).toEqual({ serverId: primaryId, found: true });
    }
  }, 30_000);
});

describe('tokens across Express apps (rwsplitMiddleware)', () => {
  let appA: PairsApp;
  let appB: PairsApp;

  beforeAll(async () => {
    // Two app servers, each its own process with its own router, as behind the load balancer.
    const config = routerConfig(cluster, { lag: LAG, consistency: 'session' });
    appA = await startPairsApp(config, 'app A');
    appB = await startPairsApp(config, 'app B');
    for (const app of [appA, appB]) {
      await until(
        async () => {
          const topology = (await (await fetch(`${app.url}/topology`)).json()) as {
            name: string;
            inRotation: boolean;
            lagMs: number | null;
          }[];
          const replica = topology.find((s) => s.name === cluster.replica(0).name);
          return replica?.inRotation === true && (replica.lagMs ?? 0) >= 500;
        },
        { timeoutMs: 15_000, what: `the replica in rotation and lagging in ${app.url}` },
      );
    }
  }, 60_000);

  afterAll(async () => {
    await appA?.close();
    await appB?.close();
  });

  const post = (id: number, headers: Record<string, string> = {}) =>
    fetch(`${appA.url}/pairs/${id}`, { method: 'POST', headers });
  const get = (id: number, headers: Record<string, string> = {}) =>
    fetch(`${appB.url}/pairs/${id}`, { headers });

  it('set an HttpOnly, SameSite=Lax cookie and the token header after a write', async () => {
    const posted = await post(nextId());
    await expectStatus(posted, 201);
    const cookie = posted.headers.getSetCookie().find((line) => line.startsWith(`${COOKIE}=`));
    expect(cookie).toBeDefined();
    expect(cookie).toMatch(/;\s*HttpOnly/i);
    expect(cookie).toMatch(/;\s*SameSite=Lax/i);
    expect(cookie).not.toMatch(/;\s*Secure/i);
    const header = posted.headers.get(TOKEN_HEADER);
    expect(header).toBeTruthy();
    expect(decodeURIComponent(cookie?.split(';', 1)[0]?.slice(COOKIE.length + 1) ?? '')).toBe(header);

    // Behind the TLS-terminating load balancer the app sees X-Forwarded-Proto: https.
    const secure = await post(nextId(), { 'x-forwarded-proto': 'https' });
    await expectStatus(secure, 201);
    expect(secure.headers.getSetCookie().find((line) => line.startsWith(`${COOKIE}=`))).toMatch(
      /;\s*Secure/i,
    );
  });

  it('carry the token in a cookie from app A to app B: no stale read in 200 pairs', async () => {
    const tally = new Tally();
    const users = 10;
    await inParallel(users, users, async () => {
      const jar = new CookieJar();
      for (let i = 0; i < PAIRS / users; i++) {
        const id = nextId();
        const posted = await post(id, jar.header());
        await expectStatus(posted, 201);
        jar.store(posted);
        expect(jar.get(COOKIE)).toBeDefined();
        tally.add((await expectStatus(await get(id, jar.header()), 200)) as ReadBack);
      }
    });
    console.log(`express, cookie: ${tally.describe(cluster)}`);
    expect(tally.total).toBe(PAIRS);
    expect(tally.stale, tally.describe(cluster)).toBe(0);
  }, 60_000);

  it('carry the token in the x-consistency-token header for API clients', async () => {
    const tally = new Tally();
    await inParallel(40, CONCURRENCY, async () => {
      const id = nextId();
      const posted = await post(id);
      await expectStatus(posted, 201);
      const token = posted.headers.get(TOKEN_HEADER);
      if (!token) throw new Error('no token header after a write');
      tally.add((await expectStatus(await get(id, { [TOKEN_HEADER]: token }), 200)) as ReadBack);
    });
    expect(tally.stale, tally.describe(cluster)).toBe(0);
  }, 60_000);

  it('let the checker see stale reads when the client drops the cookie', async () => {
    const tally = new Tally();
    await inParallel(50, CONCURRENCY, async () => {
      const id = nextId();
      await expectStatus(await post(id), 201);
      tally.add((await expectStatus(await get(id), 200)) as ReadBack);
    });
    console.log(`express, no cookie: ${tally.describe(cluster)}`);
    expect(tally.stale).toBeGreaterThan(0);
  }, 60_000);

  it("serve app B's read from the replica once it has applied the cookie's position", async () => {
    const id = nextId();
    const jar = new CookieJar();
    const posted = await post(id);
    await expectStatus(posted, 201);
    jar.store(posted);
    await appliedEverywhere(cluster, id);
    await sleep(2 * MONITOR_INTERVAL_MS);
    expect(await expectStatus(await get(id, jar.header()), 200)).toEqual({
      serverId: cluster.replica(0).serverId,
      found: true,
    });
  }, 30_000);

  it('answer a request with a corrupt or forged cookie from the primary, not with an error page', async () => {
    const id = nextId();
    const posted = await post(id);
    await expectStatus(posted, 201);
    const token = posted.headers.get(TOKEN_HEADER) ?? '';
    const gtids = parseMariaDbToken(token)?.gtids ?? [];
    expect(gtids.length).toBeGreaterThan(0);
    for (const [label, text] of Object.entries({
      'one character changed': corruptToken(token),
      'far-future position': mariadbToken(farFuture(gtids)),
      'not a token': 'not-a-token',
    })) {
      const read = await expectStatus(
        await get(id, { cookie: `${COOKIE}=${encodeURIComponent(text)}` }),
        200,
      );
      expect(read, label).toEqual({ serverId: primaryId, found: true });
    }
  }, 30_000);
});
