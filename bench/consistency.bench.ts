// What read-your-writes and lag-aware routing cost and how fast they react, on a real primary + replica:
// replica share of session reads under injected lag, eviction and readmission times, failover time, and
// the cost of the consistency check per read. Numbers for the README; no assertion on wall-clock time.
import { type Cluster, startCluster } from '@rwsplit/cluster';
import type { Router } from '@rwsplit/router';
import {
  MONITOR_INTERVAL_MS,
  PROBE_TIMEOUT_MS,
  replicatedEverywhere,
  routerFor,
  untilStatus,
} from '../test/consistency/support/cluster-router.js';
import { watchEviction, watchReadmission } from '../test/consistency/support/eviction.js';
import { adminConnection, LagInjector, visibilityDelays } from '../test/consistency/support/lag-injector.js';
import {
  INSERT_PAIR,
  idSequence,
  PAIRS_DDL,
  READ_PAIR,
  readPair,
  Tally,
} from '../test/consistency/support/read-back.js';
import { TICKS_DDL, TickWriter } from '../test/consistency/support/tick-writer.js';
import { inParallel, sleep, until } from '../test/consistency/support/wait.js';

const LAG = { maxMs: 1_000, readmitAfterMs: 1_000 };
const WAIT_MS = 50;
const LAG_LEVELS_MS = [0, 20, 200] as const;
const SESSIONS = 400;
const READS_PER_SESSION = 3;
const CONCURRENCY = 10;
const CALIBRATION_SAMPLES = 40;
const CHECK_READS = 4_000;
const CHECK_ROUNDS = 3;
const EVICTION_ROUNDS = 3;

const nextId = idSequence();

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? Number.NaN;
}
const ms = (value: number) => `${Math.round(value)} ms`;
const pct = (part: number, whole: number) => `${((100 * part) / whole).toFixed(1)} %`;

/** Sessions that write one row and read it back READS_PER_SESSION times at once: the worst case for read-your-writes. */
async function sessionWorkload(db: Router): Promise<{ first: Tally; later: Tally; latencies: number[] }> {
  const first = new Tally();
  const later = new Tally();
  const latencies: number[] = [];
  await inParallel(SESSIONS, CONCURRENCY, async () => {
    const session = db.session();
    try {
      const id = nextId();
      await session.execute(INSERT_PAIR, [id, 'bench']);
      for (let r = 0; r < READS_PER_SESSION; r++) {
        const started = performance.now();
        const read = await readPair(session, id);
        latencies.push(performance.now() - started);
        (r === 0 ? first : later).add(read);
      }
    } finally {
      session.release();
    }
  });
  return { first, later, latencies };
}

async function replicaShare(cluster: Cluster, db: Router): Promise<string[]> {
  const rows: string[] = [];
  const primaryId = cluster.primary().serverId;
  for (const peakMs of LAG_LEVELS_MS) {
    const injector = peakMs > 0 ? await LagInjector.start(cluster, cluster.replica(0), peakMs) : undefined;
    try {
      const delays = await visibilityDelays(cluster, cluster.replica(0), CALIBRATION_SAMPLES);
      const { first, later, latencies } = await sessionWorkload(db);
      const reads = first.total + later.total;
      const byReplicas = first.servedByReplicas(primaryId) + later.servedByReplicas(primaryId);
      rows.push(
        `| ${peakMs} ms | ${ms(percentile(delays, 50))} / ${ms(percentile(delays, 100))} | ${pct(byReplicas, reads)} | ` +
          `${pct(first.servedByReplicas(primaryId), first.total)} | ${first.stale + later.stale} | ` +
          `${percentile(latencies, 50).toFixed(2)} / ${percentile(latencies, 99).toFixed(2)} ms |`,
      );
    } finally {
      await injector?.stop();
    }
  }
  return rows;
}

async function evictionAndReadmission(cluster: Cluster, db: Router): Promise<string[]> {
  const replica = cluster.replica(0);
  const rows: string[] = [];
  for (let round = 1; round <= EVICTION_ROUNDS; round++) {
    await untilStatus(db, replica, (s) => s.inRotation, 'in rotation', 20_000);
    const holder = await adminConnection(cluster, replica);
    try {
      await holder.query('FLUSH TABLES WITH READ LOCK');
      const eviction = await watchEviction(db, replica, LAG.maxMs);
      await holder.query('UNLOCK TABLES');
      const readmission = await watchReadmission(db, replica, LAG.maxMs);
      rows.push(
        `| ${round} | ${ms(eviction.outAt - eviction.crossedAt)} | ${ms(readmission.backAt - readmission.caughtUpAt)} |`,
      );
    } finally {
      await holder.end();
    }
  }
  return rows;
}

interface Cost {
  readonly perSecond: number;
  readonly statementsPerRead: number;
}

/** Reads/s and server statements per read, `CHECK_READS` reads at CONCURRENCY, monitor traffic subtracted. */
async function readCost(
  cluster: Cluster,
  read: () => Promise<unknown>,
  monitorStatementsPerMs: number,
): Promise<Cost> {
  const before = await questions(cluster);
  const started = performance.now();
  await inParallel(CHECK_READS, CONCURRENCY, read);
  const elapsed = performance.now() - started;
  const statements = (await questions(cluster)) - before - monitorStatementsPerMs * elapsed;
  return { perSecond: (CHECK_READS * 1000) / elapsed, statementsPerRead: statements / CHECK_READS };
}

/** Statements the servers ran (the status query itself counts one per node). */
async function questions(cluster: Cluster): Promise<number> {
  let total = 0;
  for (const node of cluster.dbNodes) {
    const [row] = await node.query("SHOW GLOBAL STATUS LIKE 'Questions'");
    total += Number(row?.Value) - 1;
  }
  return total;
}

async function consistencyCheckCost(cluster: Cluster, db: Router, eventualDb: Router): Promise<string[]> {
  const session = db.session();
  const id = nextId();
  await session.execute(INSERT_PAIR, [id, 'bench']);
  const token = session.token();
  session.release();
  if (token === undefined) throw new Error('no token after a write');
  // Let the replica apply it and the monitor see that it did.
  await until(
    async () => (await cluster.replica(0).query('SELECT id FROM app.pairs WHERE id = ?', [id])).length,
    {
      timeoutMs: 10_000,
      what: 'the row on the replica',
    },
  );
  await sleep(3 * MONITOR_INTERVAL_MS);

  const idleBefore = await questions(cluster);
  await sleep(2_000);
  const monitorPerMs = ((await questions(cluster)) - idleBefore) / 2_000;

  const readCovered = async () => {
    const resumed = db.session({ token });
    try {
      return await resumed.query(READ_PAIR, [id]);
    } finally {
      resumed.release();
    }
  };
  // Interleaved rounds, median of each, so warm-up and drift fall on both alike.
  const eventual: Cost[] = [];
  const covered: Cost[] = [];
  for (let round = 0; round < CHECK_ROUNDS; round++) {
    eventual.push(await readCost(cluster, () => eventualDb.query(READ_PAIR, [id]), monitorPerMs));
    covered.push(await readCost(cluster, readCovered, monitorPerMs));
  }
  const median = (costs: Cost[], key: keyof Cost) =>
    percentile(
      costs.map((c) => c[key]),
      50,
    );
  const difference = median(covered, 'statementsPerRead') - median(eventual, 'statementsPerRead');
  const extra =
    Math.abs(difference) < 0.005 ? '+0.00' : `${difference > 0 ? '+' : ''}${difference.toFixed(2)}`;
  return [
    `| eventual (no check) | ${Math.round(median(eventual, 'perSecond'))} | ${median(eventual, 'statementsPerRead').toFixed(2)} |`,
    `| session, token the monitor already covers | ${Math.round(median(covered, 'perSecond'))} | ${median(covered, 'statementsPerRead').toFixed(2)} |`,
    `| session / eventual | ${(median(covered, 'perSecond') / median(eventual, 'perSecond')).toFixed(2)} | ${extra} |`,
  ];
}

async function failoverTime(cluster: Cluster, db: Router): Promise<string[]> {
  const oldPrimary = cluster.primary();
  const candidate = cluster.replica(0);
  const killed = performance.now();
  await oldPrimary.kill();
  await candidate.promote();
  const promoted = performance.now();
  const first = await until(() => db.execute(INSERT_PAIR, [nextId(), 'after failover']).then(() => true), {
    timeoutMs: 15_000,
    pollMs: 10,
    what: 'the first write after the promotion',
  });
  return [
    `| kill → promotion done (harness: apply relay log, read_only off, re-point) | ${ms(promoted - killed)} |`,
    `| promotion done → first successful write | ${ms(first.at - promoted)} |`,
    `| kill → first successful write | ${ms(first.at - killed)} |`,
  ];
}

export interface BenchResult {
  readonly title: string;
  readonly markdown: string;
}

export async function run(): Promise<BenchResult> {
  const cluster = await startCluster({ monitoring: false, servers: 0, replicas: 1 });
  const routers: Router[] = [];
  const ticks = new TickWriter(() => cluster.primary());
  try {
    await cluster.primary().query(PAIRS_DDL);
    await cluster.primary().query(TICKS_DDL);
    await replicatedEverywhere(cluster, 'ticks');
    const overrides = { lag: LAG, consistency: { mode: 'session', waitMs: WAIT_MS } } as const;
    const db = routerFor(cluster, overrides);
    const eventualDb = routerFor(cluster, { lag: LAG, consistency: 'eventual' });
    routers.push(db, eventualDb);
    await Promise.all([db.ready(), eventualDb.ready()]);
    ticks.start();

    const share = await replicaShare(cluster, db);
    const eviction = await evictionAndReadmission(cluster, db);
    const cost = await consistencyCheckCost(cluster, db, eventualDb);
    await ticks.stop();
    const failover = await failoverTime(cluster, db);

    const markdown = [
      `Primary + 1 replica (MariaDB, loopback). Monitor every ${MONITOR_INTERVAL_MS} ms (probe timeout ${PROBE_TIMEOUT_MS} ms), ` +
        `lag.maxMs ${LAG.maxMs}, readmitAfterMs ${LAG.readmitAfterMs}, consistency 'session' with waitMs ${WAIT_MS}.`,
      '',
      `### Replica share of session reads under lag`,
      '',
      `${SESSIONS} sessions, ${CONCURRENCY} at a time; each writes one row and at once reads it back ${READS_PER_SESSION} times ` +
        '(the worst case for read-your-writes). Lag is injected by holding FLUSH TABLES WITH READ LOCK on the replica for ' +
        'the peak, unlocking until it caught up, and again (a sawtooth; MASTER_DELAY only has whole seconds). ' +
        '"Visibility" is measured: commit on the primary → MASTER_GTID_WAIT returns on the replica (median / max).',
      '',
      '| injected peak lag | visibility (median / max) | reads by replica | first read after write by replica | stale reads | read latency p50 / p99 |',
      '| --- | --- | --- | --- | --- | --- |',
      ...share,
      '',
      '### Evicting a lagging replica, readmitting it',
      '',
      `The replica's SQL thread is held (FLUSH TABLES WITH READ LOCK) while a writer inserts every 50 ms. Eviction: ` +
        `from our own measure of its data lag passing maxMs to topology() showing it out for 'lagging'. ` +
        'Readmission: from its data lag dropping below maxMs (after unlock) to topology() showing it back in rotation ' +
        `(includes readmitAfterMs = ${LAG.readmitAfterMs} ms by design). A negative eviction time means the router ` +
        'was first: its heartbeat is written once per monitor interval, so its lag reads up to one interval high.',
      '',
      '| round | eviction | readmission |',
      '| --- | --- | --- |',
      ...eviction,
      '',
      '### Cost of the consistency check per read',
      '',
      `${CHECK_READS} reads of one row, ${CONCURRENCY} at a time, all on the caught-up replica; ${CHECK_ROUNDS} interleaved rounds, medians. ` +
        'A session read is a new `db.session({ token })` per read, as the middleware makes per request. "Statements per read": ' +
        "the servers' Questions counter, minus the monitor's idle rate, divided by reads.",
      '',
      '| reads | reads/s | server statements per read |',
      '| --- | --- | --- |',
      ...cost,
      '',
      '### Failover',
      '',
      'Primary killed (SIGKILL), the replica promoted at once by the harness; the router retries a write every 10 ms.',
      '',
      '| interval | time |',
      '| --- | --- |',
      ...failover,
    ].join('\n');
    return { title: 'Consistency and failover', markdown };
  } finally {
    await ticks.stop();
    for (const router of routers) await router.close();
    await cluster.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log((await run()).markdown);
}
