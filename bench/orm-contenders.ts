/**
 * What the ORM benchmarks (orm-kysely, orm-knex) share: a database-only cluster with the `kv` table, the
 * settings, and the side-by-side measurement of router-overhead (every contender warmed up, then ROUNDS
 * rounds in a rotating order, medians of throughput and of client CPU per statement).
 *
 * Env: BENCH_DURATION_MS (default 3000), BENCH_WARMUP_MS (1000), BENCH_ROUNDS (5), BENCH_CONCURRENCY (32),
 *      BENCH_POOL (8), BENCH_ONLY (contender names, separated by |).
 */
import { readFileSync } from 'node:fs';
import { type Cluster, type DbNode, startCluster } from '@rwsplit/cluster';
import { createRouter, type Router } from '@rwsplit/router';
import { drive, envInt, type Measured, median, type PointSelect, seedKv } from './router-overhead.bench.js';

export interface Contender {
  readonly name: string;
  readonly select: PointSelect;
  readonly close: () => Promise<void>;
}

export interface OrmRow {
  readonly contender: string;
  /** Median over rounds. */
  readonly opsPerSecond: number;
  readonly rounds: readonly number[];
  /** Median client CPU per statement, µs. */
  readonly cpuMicrosPerOp: number;
}

export interface Settings {
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly rounds: number;
  readonly concurrency: number;
  readonly poolSize: number;
}

export function settings(): Settings {
  return {
    durationMs: envInt('BENCH_DURATION_MS', 3_000),
    warmupMs: envInt('BENCH_WARMUP_MS', 1_000),
    rounds: envInt('BENCH_ROUNDS', 5),
    concurrency: envInt('BENCH_CONCURRENCY', 32),
    poolSize: envInt('BENCH_POOL', 8),
  };
}

/** The replica as a plain mysql2 target: what the raw-pool contenders connect to. */
export interface Target {
  readonly cluster: Cluster;
  readonly replica: DbNode;
  readonly connection: {
    readonly host: string;
    readonly port: number;
    readonly user: string;
    readonly password: string;
    readonly database: string;
    readonly ssl: Cluster['credentials']['app']['ssl'];
  };
}

/** A database-only cluster (no failover managers: nothing here fails) with `app.kv` on both nodes. */
export async function startTarget(): Promise<Target> {
  const cluster = await startCluster({ monitoring: false, servers: 0, replicas: 1, failover: false });
  try {
    const replica = cluster.replica(0);
    await seedKv(cluster.primary(), replica);
    const { user, password, database, ssl } = cluster.credentials.app;
    return {
      cluster,
      replica,
      connection: { host: replica.host, port: replica.port, user, password, database, ssl },
    };
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}

/** The router every rwsplit contender runs on: that cluster, its monitor on, reads on the replica. */
export async function routerOver(target: Target, poolSize: number): Promise<Router> {
  const { cluster, replica } = target;
  const primary = cluster.primary();
  const { user, password, database, ssl } = cluster.credentials.app;
  const router = createRouter({
    primary: { host: primary.host, port: primary.port, name: primary.name },
    replicas: [{ host: replica.host, port: replica.port, name: replica.name }],
    connection: { user, password, database, ssl },
    pool: { max: poolSize },
    monitor: { ...cluster.credentials.monitor },
  });
  await router.ready();
  return router;
}

/**
 * Every contender warmed up, then `rounds` rounds with the order rotated each round; medians. BENCH_ONLY='name|name'
 * measures a subset (the baseline must be among them for the table).
 */
export async function measure(all: readonly Contender[], s: Settings): Promise<OrmRow[]> {
  const only = process.env.BENCH_ONLY?.split('|');
  const contenders = only === undefined ? all : all.filter((c) => only.includes(c.name));
  for (const contender of contenders) await drive(contender.select, s.concurrency, s.warmupMs);
  const results = new Map<string, Measured[]>(contenders.map((c) => [c.name, []]));
  for (let round = 0; round < s.rounds; round++) {
    for (let i = 0; i < contenders.length; i++) {
      const contender = contenders[(round + i) % contenders.length]!;
      results.get(contender.name)!.push(await drive(contender.select, s.concurrency, s.durationMs));
    }
  }
  return contenders.map((c) => {
    const measured = results.get(c.name)!;
    const rounds = measured.map((m) => m.opsPerSecond);
    return {
      contender: c.name,
      opsPerSecond: median(rounds),
      rounds,
      cpuMicrosPerOp: median(measured.map((m) => m.cpuMicrosPerOp)),
    };
  });
}

/** The table, with each row's throughput ratio and CPU difference against `baseline`. */
export function table(rows: readonly OrmRow[], baseline: string, note: string): string {
  const base = rows.find((r) => r.contender === baseline);
  if (base === undefined) throw new Error(`no baseline row ${baseline}`);
  const lines = [
    `| contender | point selects/s (median) | rounds | ÷ ${baseline} | client CPU µs/select | CPU vs it |`,
    '| --- | ---: | --- | ---: | ---: | ---: |',
    ...rows.map((r) => {
      const cpu = r.cpuMicrosPerOp - base.cpuMicrosPerOp;
      return `| ${r.contender} | ${Math.round(r.opsPerSecond)} | ${r.rounds.map((x) => Math.round(x)).join(', ')} | ${(r.opsPerSecond / base.opsPerSecond).toFixed(3)} | ${r.cpuMicrosPerOp.toFixed(1)} | ${cpu >= 0 ? '+' : ''}${cpu.toFixed(1)} |`;
    }),
  ];
  return `${lines.join('\n')}\n\n${note}\n`;
}

export async function closeAll(contenders: readonly Contender[], target: Target | undefined): Promise<void> {
  for (const contender of contenders) await contender.close().catch(() => {});
  await target?.cluster.stop();
}

/** The installed version of a dependency, for the note under a table (read from its package.json). */
export function packageVersion(name: string): string {
  const file = new URL(`../node_modules/${name}/package.json`, import.meta.url);
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}
