// The chaos table: one fault at a time under a bounded mixed load through the floating address, on the
// netns stack. Writers POST a note and read it back with their consistency cookie (a 404 there is a stale
// read); readers list notes without one. Shared by test/netns/chaos.test.ts and bench/chaos.bench.ts.
import type { Cluster } from '@rwsplit/cluster';
import { CookieJar, LbClient } from '../../e2e/support/client.js';

/** A fault the table injects; `inject` returns its undo. */
export interface ChaosRow {
  readonly name: string;
  /** Why a miss of the targets is expected for this row, when one is (said beside its numbers). */
  readonly note?: string;
  inject(cluster: Cluster): Promise<() => Promise<void>>;
}

export interface ChaosResult {
  readonly name: string;
  readonly requests: number;
  readonly failed: number;
  readonly failedGets: number;
  /** The longest time no request got an answer, ms. */
  readonly longestOutageMs: number;
  readonly acknowledgedWrites: number;
  readonly lostWrites: number;
  readonly doubledWrites: number;
  /** Read-backs with the cookie that did not find the note just written. */
  readonly staleReads: number;
  /** From the undo to the last failed request after it (0: none failed after the undo). */
  readonly recoverMs: number;
  readonly note: string | undefined;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function serverPartition(cluster: Cluster): Promise<() => Promise<void>> {
  return cluster.network
    .partition(['server-1'], [cluster.primary().name])
    .then((fault) => () => fault.undo());
}

/** The rows the issue lists, in an order that keeps the topology changes (primary kill) late. */
export const CHAOS_ROWS: readonly ChaosRow[] = [
  {
    name: 'app SIGKILL',
    async inject(cluster) {
      const app = cluster.server(0).app;
      await app.kill();
      return () => app.restart();
    },
  },
  {
    name: 'app SIGSTOP',
    async inject(cluster) {
      const app = cluster.server(0).app;
      await app.pause();
      return () => app.resume();
    },
  },
  {
    name: 'Nginx kill',
    async inject(cluster) {
      const nginx = cluster.server(1).nginx;
      await nginx.kill();
      return () => nginx.restart();
    },
  },
  {
    name: 'rolling restart',
    async inject(cluster) {
      for (const server of cluster.servers) {
        await server.drain();
        await sleep(300);
        await server.app.terminate();
        await server.app.restart();
        await server.undrain();
        await untilAllUp(cluster);
      }
      return async () => {};
    },
  },
  {
    name: 'replica kill',
    async inject(cluster) {
      const replica = cluster.replica(0);
      await replica.kill();
      return () => replica.restart();
    },
  },
  {
    name: 'replica SIGSTOP',
    async inject(cluster) {
      const replica = cluster.replica(0);
      await replica.pause();
      return () => replica.resume();
    },
  },
  {
    name: 'replica 2 s behind',
    async inject(cluster) {
      const replica = cluster.replica(0);
      await replica.delayReplication(2_000);
      return () => replica.delayReplication(0);
    },
  },
  {
    name: 'active LB haproxy SIGKILL',
    async inject(cluster) {
      const active = await cluster.activeLbHost();
      await active.haproxy.kill();
      return async () => {
        await active.haproxy.restart();
        await active.keepalived.restart();
      };
    },
  },
  {
    name: 'LB host link down',
    async inject(cluster) {
      const active = await cluster.activeLbHost();
      const fault = await active.linkDown();
      return () => fault.undo();
    },
  },
  { name: 'partition server-1 ↔ primary', inject: serverPartition },
  {
    name: 'partition primary ↔ replicas',
    async inject(cluster) {
      const fault = await cluster.network.partition(
        [cluster.primary().name],
        cluster.replicas().map((replica) => replica.name),
      );
      return () => fault.undo();
    },
  },
  {
    name: '200 ms latency to a replica',
    async inject(cluster) {
      const replica = cluster.replica(0);
      const faults = await Promise.all(
        cluster.servers.map((server) =>
          cluster.network.addLatency(server.name, replica.name, replica.port, 200),
        ),
      );
      return async () => {
        for (const fault of faults) await fault.undo();
      };
    },
  },
  {
    name: 'primary SIGKILL (managers fail over)',
    async inject(cluster) {
      const old = cluster.primary();
      await old.kill();
      await cluster.waitForPrimary({ not: old, timeoutMs: 30_000 });
      return () => old.restart();
    },
  },
];

async function untilAllUp(cluster: Cluster, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const states = await cluster.backendStates().catch(() => []);
    if (states.length > 0 && states.every((s) => s.status === 'UP')) return;
    await sleep(100);
  }
  throw new Error('the servers did not all come back UP in HAProxy');
}

export interface ChaosTiming {
  /** Load before the fault. */
  readonly beforeMs: number;
  /** How long the fault stays. */
  readonly faultMs: number;
  /** Load after the undo. */
  readonly afterMs: number;
}

export const DEFAULT_TIMING: ChaosTiming = { beforeMs: 1_500, faultMs: 3_000, afterMs: 3_000 };

/** One row: load, fault, undo, more load; then what the clients saw and what the database kept. */
export async function runChaosRow(
  cluster: Cluster,
  row: ChaosRow,
  timing: ChaosTiming = DEFAULT_TIMING,
): Promise<ChaosResult> {
  const run = `chaos-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
  const started = performance.now();
  // The load runs until `afterMs` past the undo, however long the fault took to inject (a rolling restart
  // takes longer than the fault window).
  let stopAt = Number.POSITIVE_INFINITY;
  let requests = 0;
  let failed = 0;
  let failedGets = 0;
  let stale = 0;
  let lastAnswer = started;
  let longestOutage = 0;
  let undoneAt: number | undefined;
  let lastFailureAfterUndo: number | undefined;
  const acknowledged: string[] = [];
  const answered = () => {
    const now = performance.now();
    longestOutage = Math.max(longestOutage, now - lastAnswer);
    lastAnswer = now;
  };
  const failure = (get: boolean) => {
    failed++;
    if (get) failedGets++;
    if (undoneAt !== undefined) lastFailureAfterUndo = performance.now();
  };
  const live = () => performance.now() < stopAt;

  const writer = async (index: number) => {
    const client = LbClient.forCluster(cluster, { jar: new CookieJar(), timeoutMs: 5_000 });
    for (let i = 0; live(); i++) {
      const title = `${run} w${index} ${i}`;
      requests++;
      const created = await client.post('/api/notes', { title }).catch(() => undefined);
      if (created?.status !== 201) {
        failure(false);
        continue;
      }
      acknowledged.push(title);
      answered();
      const { id } = created.json<{ id: number }>();
      requests++;
      const read = await client.get(`/api/notes/${id}`).catch(() => undefined);
      if (read?.status === 200) answered();
      else if (read?.status === 404) {
        stale++;
        answered();
      } else failure(true);
    }
  };
  const reader = async () => {
    const client = LbClient.forCluster(cluster, { timeoutMs: 5_000 });
    while (live()) {
      requests++;
      const reply = await client.get('/api/notes?limit=5').catch(() => undefined);
      if (reply?.status === 200) answered();
      else failure(true);
      await sleep(10);
    }
  };
  const load = Promise.all([writer(1), writer(2), reader(), reader()]);
  await sleep(timing.beforeMs);
  const undo = await row.inject(cluster);
  await sleep(Math.max(0, timing.beforeMs + timing.faultMs - (performance.now() - started)));
  await undo();
  undoneAt = performance.now();
  stopAt = undoneAt + timing.afterMs;
  await load;
  // A stack that never answered again counts to the end of the load.
  longestOutage = Math.max(longestOutage, performance.now() - lastAnswer);

  const primary = await cluster.waitForPrimary({ timeoutMs: 30_000 });
  const rows = (await primary.query(
    `SELECT title, COUNT(*) AS n FROM ${cluster.credentials.app.database}.notes WHERE title LIKE ? GROUP BY title`,
    [`${run} %`],
  )) as unknown as { title: string; n: number }[];
  const stored = new Map(rows.map((r) => [r.title, Number(r.n)]));
  return {
    name: row.name,
    requests,
    failed,
    failedGets,
    longestOutageMs: Math.round(longestOutage),
    acknowledgedWrites: acknowledged.length,
    lostWrites: acknowledged.filter((title) => !stored.has(title)).length,
    doubledWrites: [...stored.values()].filter((n) => n > 1).length,
    staleReads: stale,
    recoverMs:
      lastFailureAfterUndo === undefined || undoneAt === undefined
        ? 0
        : Math.round(lastFailureAfterUndo - undoneAt),
    note: row.note,
  };
}

/** The table as markdown, one row per fault. */
export function chaosTable(results: readonly ChaosResult[]): string {
  const header =
    '| fault | requests | failed (GETs) | longest outage | writes acknowledged | lost | doubled | stale with cookie | recovered after undo |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |';
  const lines = results.map(
    (r) =>
      `| ${r.name} | ${r.requests} | ${r.failed} (${r.failedGets}) | ${r.longestOutageMs} ms | ${r.acknowledgedWrites} | ${r.lostWrites} | ${r.doubledWrites} | ${r.staleReads} | ${r.recoverMs} ms |`,
  );
  return [header, ...lines].join('\n');
}
