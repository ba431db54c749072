/**
 * Routing overhead: point-select throughput through `createRouter` against the two things a user
 * would otherwise run, a raw mysql2 promise pool and a mysql2 PoolCluster, all aimed at the same
 * MariaDB replica with the same pool size and the same number of concurrent callers, in one run.
 *
 * Method: one database-only cluster; a 1 000-row table; each contender runs `SELECT id, v FROM kv
 * WHERE id = ?` (random id, text protocol) from CONCURRENCY async callers for DURATION_MS after a
 * warm-up. Contenders take turns for ROUNDS rounds so drift (page cache, CPU boost, the other
 * process on the box) hits all alike; the median round counts. No OpenTelemetry SDK is registered,
 * so the router pays for the API's no-op tracer, as an uninstrumented app would.
 *
 * Run: `node --conditions=source --import tsx bench/router-overhead.bench.ts`
 * Env: BENCH_DURATION_MS (default 3000), BENCH_WARMUP_MS (1000), BENCH_ROUNDS (5),
 *      BENCH_CONCURRENCY (32), BENCH_POOL (8).
 */
import { pathToFileURL } from 'node:url';
import { type DbNode, startCluster } from '@rwsplit/cluster';
import { createRouter } from '@rwsplit/router';
import mysql from 'mysql2/promise';

export interface OverheadRow {
  readonly contender: string;
  /** Median over rounds. */
  readonly opsPerSecond: number;
  /** Each round's ops/s, in order. */
  readonly rounds: readonly number[];
  /** opsPerSecond / the raw mysql2 pool's. */
  readonly ratio: number;
  /** Median client CPU per statement, µs. */
  readonly cpuMicrosPerOp: number;
}

export type PointSelect = (id: number) => Promise<unknown>;

interface Contender {
  readonly name: string;
  readonly select: PointSelect;
  readonly close: () => Promise<void>;
}

export const SQL = 'SELECT id, v FROM kv WHERE id = ?';
export const ROWS = 1_000;

/** The bench table `app.kv` with ROWS rows, on the primary and (waited for) on the replica. */
export async function seedKv(primary: DbNode, replica: DbNode): Promise<void> {
  await primary.query('CREATE TABLE app.kv (id INT PRIMARY KEY, v VARCHAR(32) NOT NULL)');
  const values = Array.from({ length: ROWS }, (_, i) => `(${i + 1}, 'value-${i + 1}')`).join(',');
  await primary.query(`INSERT INTO app.kv VALUES ${values}`);
  const deadline = Date.now() + 30_000;
  while ((await replica.query('SELECT COUNT(*) AS n FROM app.kv').catch(() => [{ n: 0 }]))[0]?.n !== ROWS) {
    if (Date.now() > deadline) throw new Error('the bench table did not replicate within 30 s');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export function envInt(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isInteger(value) && value > 0 ? value : fallback;
}

export interface Measured {
  readonly opsPerSecond: number;
  /** Client-process CPU (user + system) per statement, in µs: the overhead measure that noise hurts least. */
  readonly cpuMicrosPerOp: number;
}

export async function drive(select: PointSelect, concurrency: number, durationMs: number): Promise<Measured> {
  let done = 0;
  const end = performance.now() + durationMs;
  const caller = async () => {
    while (performance.now() < end) {
      await select(1 + Math.floor(Math.random() * ROWS));
      done += 1;
    }
  };
  const started = performance.now();
  const cpu = process.cpuUsage();
  await Promise.all(Array.from({ length: concurrency }, caller));
  const used = process.cpuUsage(cpu);
  return {
    opsPerSecond: done / ((performance.now() - started) / 1000),
    cpuMicrosPerOp: (used.user + used.system) / done,
  };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function markdown(rows: readonly OverheadRow[], note: string): string {
  const lines = [
    '| contender | point selects/s (median) | rounds | ratio to raw pool | client CPU µs/select |',
    '| --- | ---: | --- | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${r.contender} | ${Math.round(r.opsPerSecond)} | ${r.rounds.map((x) => Math.round(x)).join(', ')} | ${r.ratio.toFixed(3)} | ${r.cpuMicrosPerOp.toFixed(1)} |`,
    ),
  ];
  return `${lines.join('\n')}\n\n${note}\n`;
}

export async function run(): Promise<{ title: string; markdown: string; rows: OverheadRow[] }> {
  const durationMs = envInt('BENCH_DURATION_MS', 3_000);
  const warmupMs = envInt('BENCH_WARMUP_MS', 1_000);
  const rounds = envInt('BENCH_ROUNDS', 5);
  const concurrency = envInt('BENCH_CONCURRENCY', 32);
  const poolSize = envInt('BENCH_POOL', 8);

  const cluster = await startCluster({ monitoring: false, servers: 0, replicas: 1 });
  const contenders: Contender[] = [];
  try {
    const primary = cluster.primary();
    const replica = cluster.replica(0);
    await seedKv(primary, replica);

    const { user, password, database, ssl } = cluster.credentials.app;
    const target = { host: replica.host, port: replica.port, user, password, database, ssl };

    const pool = mysql.createPool({ ...target, connectionLimit: poolSize });
    contenders.push({ name: 'mysql2 pool', select: (id) => pool.query(SQL, [id]), close: () => pool.end() });
    // The router turns mysql2's per-statement stack capture (`trace`) off; the same pool with it off too
    // shows how much of the difference is that setting alone.
    const untraced = mysql.createPool({ ...target, connectionLimit: poolSize, trace: false });
    contenders.push({
      name: 'mysql2 pool, trace: false',
      select: (id) => untraced.query(SQL, [id]),
      close: () => untraced.end(),
    });

    const poolCluster = mysql.createPoolCluster();
    poolCluster.add('replica', { ...target, connectionLimit: poolSize });
    const namespace = poolCluster.of('replica');
    contenders.push({
      name: 'mysql2 PoolCluster',
      select: (id) => namespace.query(SQL, [id]),
      close: () => poolCluster.end(),
    });

    const router = createRouter({
      primary: { host: primary.host, port: primary.port, name: primary.name },
      replicas: [{ host: replica.host, port: replica.port, name: replica.name }],
      connection: { user, password, database, ssl },
      pool: { max: poolSize },
      monitor: { ...cluster.credentials.monitor },
    });
    await router.ready();
    contenders.push({
      name: '@rwsplit/router',
      select: (id) => router.query(SQL, [id]),
      close: async () => {
        await router.close();
      },
    });

    // BENCH_ONLY=name,name runs a subset (to look at one contender alone); ratios then use the first.
    const only = process.env.BENCH_ONLY?.split(',');
    const running = only === undefined ? contenders : contenders.filter((c) => only.includes(c.name));
    for (const contender of running) await drive(contender.select, concurrency, warmupMs);
    const results = new Map<string, Measured[]>(running.map((c) => [c.name, []]));
    for (let round = 0; round < rounds; round++) {
      // Rotate the order each round so no contender always runs first or last.
      for (let i = 0; i < running.length; i++) {
        const contender = running[(round + i) % running.length]!;
        results.get(contender.name)!.push(await drive(contender.select, concurrency, durationMs));
      }
    }

    const baseline = results.get('mysql2 pool') ?? results.get(running[0]!.name)!;
    const raw = median(baseline.map((m) => m.opsPerSecond));
    const rows = running.map((c) => {
      const measured = results.get(c.name)!;
      const rounds = measured.map((m) => m.opsPerSecond);
      const opsPerSecond = median(rounds);
      const cpuMicrosPerOp = median(measured.map((m) => m.cpuMicrosPerOp));
      return { contender: c.name, opsPerSecond, rounds, ratio: opsPerSecond / raw, cpuMicrosPerOp };
    });
    const note = `Same MariaDB replica, ${concurrency} concurrent callers, ${poolSize} connections per pool, ${rounds} rounds of ${durationMs} ms after ${warmupMs} ms warm-up; Node ${process.version}, no OpenTelemetry SDK.`;
    const table = markdown(rows, note);
    console.log(table);
    return { title: 'Router overhead: point selects vs raw mysql2', markdown: table, rows };
  } finally {
    for (const contender of contenders) await contender.close().catch(() => {});
    await cluster.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await run();
}
