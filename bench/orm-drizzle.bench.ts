/**
 * What the rwsplit Drizzle adapter costs: the same Drizzle point select through `drizzle(router)` from
 * `@rwsplit/router/drizzle` and through drizzle-orm's own `drizzle(pool)` on a raw mysql2 promise pool, both
 * aimed at the same MariaDB replica, side by side in one run.
 *
 * Method: as router-overhead (one database-only cluster, the 1 000-row `kv` table, CONCURRENCY callers for
 * DURATION_MS per round after a warm-up, contenders rotated each round, medians). Two query forms: built
 * per call (`db.select().from(kv).where(eq(kv.id, id))`, what most code writes, whose query building both
 * sides pay alike) and prepared once (`.prepare()` with a placeholder, where the adapter's share of the
 * client's work is largest). The router turns mysql2's per-statement stack capture (`trace`) off, so the
 * pool runs both ways: `trace: false` is the like-for-like baseline, the default pool what users have.
 * The router's monitor runs (as in production); no OpenTelemetry SDK is registered.
 *
 * Then the same prepared select without the network, where a loaded machine disturbs the figure least:
 * Drizzle on a do-nothing pool and on the router over a do-nothing driver (both answer every statement at
 * once with one ready-made row), BENCH_STATEMENTS selects from CONCURRENCY callers per round, process CPU
 * time around each run. The difference is what the router and the adapter cost per Drizzle select.
 *
 * Run: `node --conditions=source --import tsx bench/orm-drizzle.bench.ts`
 * Env: as router-overhead (BENCH_DURATION_MS, BENCH_WARMUP_MS, BENCH_ROUNDS, BENCH_CONCURRENCY, BENCH_POOL),
 *      BENCH_STATEMENTS (100000, the part without the network).
 */
import { EventEmitter } from 'node:events';
import { pathToFileURL } from 'node:url';
import { startCluster } from '@rwsplit/cluster';
import { createRouter, type Driver, type DriverConnection } from '@rwsplit/router';
import { drizzle } from '@rwsplit/router/drizzle';
import { eq, sql } from 'drizzle-orm';
import { int, mysqlTable, varchar } from 'drizzle-orm/mysql-core';
import { drizzle as drizzleOnPool, type MySql2Database } from 'drizzle-orm/mysql2';
import mysql, { type FieldPacket, type Pool, type QueryResult } from 'mysql2/promise';
import { drive, envInt, type Measured, median, type PointSelect, seedKv } from './router-overhead.bench.js';

const kv = mysqlTable('kv', {
  id: int('id').primaryKey(),
  v: varchar('v', { length: 32 }).notNull(),
});

type Form = 'built per call' | 'prepared';
const FORMS: readonly Form[] = ['built per call', 'prepared'];
type Client = 'mysql2 pool' | 'mysql2 pool, trace: false' | '@rwsplit/router';

interface Contender {
  readonly client: Client;
  readonly form: Form;
  readonly select: PointSelect;
}

export interface DrizzleRow {
  readonly client: Client;
  readonly form: Form;
  /** Median over rounds. */
  readonly opsPerSecond: number;
  /** Each round's point selects/s, in order. */
  readonly rounds: readonly number[];
  /** Median client CPU per select, µs. */
  readonly cpuMicrosPerOp: number;
}

/** The router against one pool, same query form, round by round. */
export interface DrizzleRatio {
  readonly base: Exclude<Client, '@rwsplit/router'>;
  readonly form: Form;
  /** Median over rounds of (router's selects/s ÷ the pool's, measured next to each other in that round). */
  readonly throughput: number;
  readonly lowest: number;
  readonly highest: number;
  /** Median over rounds of the router's client CPU per select minus the pool's, µs. */
  readonly cpuDeltaMicros: number;
}

/** The point select in both forms, on one Drizzle database. */
function selects(db: MySql2Database): Record<Form, PointSelect> {
  const prepared = db
    .select()
    .from(kv)
    .where(eq(kv.id, sql.placeholder('id')))
    .prepare();
  return {
    'built per call': (id) => db.select().from(kv).where(eq(kv.id, id)),
    prepared: (id) => prepared.execute({ id }),
  };
}

/** One `kv` row as drizzle-orm asks for it (`rowsAsArray`). */
const ROW: [QueryResult, FieldPacket[]] = [[[1, 'value-1']] as unknown as QueryResult, []];

/** Answers every statement at once with `ROW`: the cheapest connection there can be. */
class NullConnection extends EventEmitter implements DriverConnection {
  readonly threadId = 1;
  query(): Promise<[QueryResult, FieldPacket[]]> {
    return Promise.resolve(ROW);
  }
  execute(): Promise<[QueryResult, FieldPacket[]]> {
    return Promise.resolve(ROW);
  }
  ping(): Promise<void> {
    return Promise.resolve();
  }
  end(): Promise<void> {
    return Promise.resolve();
  }
  destroy(): void {}
}

const nullDriver: Driver = {
  connect: () => Promise.resolve(new NullConnection()),
  serverVersion: () => '10.11.6-MariaDB',
};

/** Client CPU per prepared Drizzle select with no network: on a do-nothing pool, and on the router. */
async function withoutNetwork(statements: number, callers: number, rounds: number) {
  // What drizzle-orm's mysql2 session calls for a select: query(). The same do-nothing answer as the driver's.
  const nullPool = new NullConnection() as unknown as Pool;
  const router = createRouter({
    primary: { host: 'p', name: 'p' },
    replicas: [{ host: 'r', name: 'r' }],
    driver: nullDriver,
    monitor: false,
  });
  try {
    const contenders = [selects(drizzleOnPool(nullPool)).prepared, selects(drizzle(router)).prepared];
    const cpuPerSelect = async (select: PointSelect) => {
      let next = 0;
      const caller = async () => {
        while (next++ < statements) await select(next);
      };
      const before = process.cpuUsage();
      await Promise.all(Array.from({ length: callers }, caller));
      const used = process.cpuUsage(before);
      return (used.user + used.system) / statements;
    };
    for (const select of contenders) await cpuPerSelect(select);
    const measured: [number[], number[]] = [[], []];
    for (let round = 0; round < rounds; round++) {
      for (const index of round % 2 === 0 ? [0, 1] : [1, 0])
        measured[index]!.push(await cpuPerSelect(contenders[index]!));
    }
    return { pool: median(measured[0]), router: median(measured[1]) };
  } finally {
    await router.close();
  }
}

/** Per-round ratios: the load on a shared machine drifts, so each round's pair is compared with itself. */
function ratios(contenders: readonly Contender[], results: readonly Measured[][]): DrizzleRatio[] {
  const measured = (client: Client, form: Form) =>
    results[contenders.findIndex((c) => c.client === client && c.form === form)]!;
  const out: DrizzleRatio[] = [];
  for (const base of ['mysql2 pool, trace: false', 'mysql2 pool'] as const) {
    for (const form of FORMS) {
      const router = measured('@rwsplit/router', form);
      const pool = measured(base, form);
      const perRound = router.map((m, i) => m.opsPerSecond / pool[i]!.opsPerSecond);
      const cpu = router.map((m, i) => m.cpuMicrosPerOp - pool[i]!.cpuMicrosPerOp);
      out.push({
        base,
        form,
        throughput: median(perRound),
        lowest: Math.min(...perRound),
        highest: Math.max(...perRound),
        cpuDeltaMicros: median(cpu),
      });
    }
  }
  return out;
}

function table(
  rows: readonly DrizzleRow[],
  pairs: readonly DrizzleRatio[],
  bare: { readonly pool: number; readonly router: number },
  note: string,
): string {
  const signed = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(1)}`;
  const lines = [
    '| Drizzle on | query | point selects/s (median) | rounds | client CPU µs/select |',
    '| --- | --- | ---: | --- | ---: |',
    ...rows.map(
      (r) =>
        `| ${r.client} | ${r.form} | ${Math.round(r.opsPerSecond)} | ${r.rounds.map((x) => Math.round(x)).join(', ')} | ${r.cpuMicrosPerOp.toFixed(1)} |`,
    ),
    '',
    '| @rwsplit/router ÷ | query | throughput ratio (median of rounds) | range over rounds | client CPU per select |',
    '| --- | --- | ---: | --- | ---: |',
    ...pairs.map(
      (p) =>
        `| ${p.base} | ${p.form} | ${p.throughput.toFixed(3)} | ${p.lowest.toFixed(2)}–${p.highest.toFixed(2)} | ${signed(p.cpuDeltaMicros)} µs |`,
    ),
    '',
    '| without the network, prepared select | client CPU µs/select |',
    '| --- | ---: |',
    `| Drizzle on a do-nothing pool | ${bare.pool.toFixed(2)} |`,
    `| Drizzle on @rwsplit/router, do-nothing driver | ${bare.router.toFixed(2)} |`,
    `| the router and the adapter | ${signed(bare.router - bare.pool)} µs |`,
  ];
  return `${lines.join('\n')}\n\n${note}\n`;
}

export async function run(): Promise<{
  title: string;
  markdown: string;
  rows: DrizzleRow[];
  ratios: DrizzleRatio[];
}> {
  const durationMs = envInt('BENCH_DURATION_MS', 3_000);
  const warmupMs = envInt('BENCH_WARMUP_MS', 1_000);
  const rounds = envInt('BENCH_ROUNDS', 5);
  const concurrency = envInt('BENCH_CONCURRENCY', 32);
  const poolSize = envInt('BENCH_POOL', 8);

  const cluster = await startCluster({ monitoring: false, servers: 0, replicas: 1, failover: false });
  const closers: (() => Promise<unknown>)[] = [];
  try {
    const primary = cluster.primary();
    const replica = cluster.replica(0);
    await seedKv(primary, replica);
    const { user, password, database, ssl } = cluster.credentials.app;
    const target = { host: replica.host, port: replica.port, user, password, database, ssl };

    const contenders: Contender[] = [];
    const add = (client: Client, db: MySql2Database) => {
      const forms = selects(db);
      for (const form of FORMS) contenders.push({ client, form, select: forms[form] });
    };
    const pool = mysql.createPool({ ...target, connectionLimit: poolSize });
    closers.push(() => pool.end());
    add('mysql2 pool', drizzleOnPool(pool));
    const untraced = mysql.createPool({ ...target, connectionLimit: poolSize, trace: false });
    closers.push(() => untraced.end());
    add('mysql2 pool, trace: false', drizzleOnPool(untraced));
    const router = createRouter({
      primary: { host: primary.host, port: primary.port, name: primary.name },
      replicas: [{ host: replica.host, port: replica.port, name: replica.name }],
      connection: { user, password, database, ssl },
      pool: { max: poolSize },
      monitor: { ...cluster.credentials.monitor },
    });
    closers.push(() => router.close());
    await router.ready();
    add('@rwsplit/router', drizzle(router));

    for (const contender of contenders) await drive(contender.select, concurrency, warmupMs);
    const results = contenders.map(() => [] as Measured[]);
    for (let round = 0; round < rounds; round++) {
      // The contenders of one query form run back to back, so a pair compared in a round saw the same load;
      // forms and contenders swap order every round, so none always runs first or last.
      const forms = round % 2 === 0 ? FORMS : [...FORMS].reverse();
      for (const form of forms) {
        const group = contenders.map((c, index) => ({ c, index })).filter(({ c }) => c.form === form);
        if (Math.floor(round / 2) % 2 === 1) group.reverse();
        for (const { c, index } of group)
          results[index]!.push(await drive(c.select, concurrency, durationMs));
      }
    }
    const rows = contenders.map((c, index) => {
      const measured = results[index]!;
      const perRound = measured.map((m) => m.opsPerSecond);
      return {
        client: c.client,
        form: c.form,
        opsPerSecond: median(perRound),
        rounds: perRound,
        cpuMicrosPerOp: median(measured.map((m) => m.cpuMicrosPerOp)),
      };
    });
    const note = `Same MariaDB replica (TLS), ${concurrency} concurrent callers, ${poolSize} connections per pool, ${rounds} rounds of ${durationMs} ms after ${warmupMs} ms warm-up; Node ${process.version}, no OpenTelemetry SDK. Target: throughput ratio ≥ 0.97 against the like-for-like pool.`;
    const pairs = ratios(contenders, results);
    const bare = await withoutNetwork(envInt('BENCH_STATEMENTS', 100_000), concurrency, rounds);
    const markdown = table(rows, pairs, bare, note);
    console.log(markdown);
    return { title: 'Drizzle on the router vs Drizzle on a raw mysql2 pool', markdown, rows, ratios: pairs };
  } finally {
    for (const close of closers) await close().catch(() => {});
    await cluster.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await run();
}
