/**
 * A replica that stops answering (SIGSTOP: sockets stay open, nothing comes back) under a steady read
 * stream: how many reads fail and how long the worst one waits, for the router's default deadlines, the
 * notes app's, and deadlines longer than the stall (what every read on the replica's connections had
 * before deadlines existed: it waits for the whole stall).
 *
 * Method: one database-only cluster (primary + one replica); for each contender a router with those
 * timeouts, 8 callers reading a point select back to back; 300 ms in, the replica is SIGSTOPped for
 * STALL_MS, then resumed; the stream stops when the replica is back, and we wait until it is in rotation
 * again before the next contender.
 *
 * Run: `node --conditions=source --import tsx bench/stalled-replica.bench.ts`
 * Env: BENCH_STALL_MS (default 3000).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { type Cluster, startCluster } from '@rwsplit/cluster';
import { createRouter, type Router, type TimeoutsConfig } from '@rwsplit/router';

const CALLERS = 8;

function envInt(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isInteger(value) && value > 0 ? value : fallback;
}

interface Row {
  readonly contender: string;
  readonly reads: number;
  readonly failed: number;
  readonly p99Ms: number;
  readonly worstMs: number;
}

function routerFor(cluster: Cluster, timeouts: TimeoutsConfig): Router {
  const node = (n: { name: string; host: string; port: number }) => ({
    name: n.name,
    host: n.host,
    port: n.port,
  });
  return createRouter({
    primary: node(cluster.primary()),
    replicas: cluster.replicas().map(node),
    connection: cluster.credentials.app,
    monitor: { ...cluster.credentials.monitor },
    pool: { max: CALLERS, connectTimeoutMs: 1_000 },
    timeouts,
  });
}

async function measure(
  cluster: Cluster,
  contender: string,
  timeouts: TimeoutsConfig,
  stallMs: number,
): Promise<Row> {
  const db = routerFor(cluster, timeouts);
  try {
    await db.ready();
    await Promise.all(Array.from({ length: CALLERS }, () => db.query('SELECT 1')));
    const latencies: number[] = [];
    let failed = 0;
    let stopped = false;
    const caller = async () => {
      while (!stopped) {
        const started = performance.now();
        try {
          await db.query('SELECT v FROM app.kv WHERE id = ?', [1]);
        } catch {
          failed++;
        }
        latencies.push(performance.now() - started);
        await sleep(5);
      }
    };
    const callers = Array.from({ length: CALLERS }, caller);
    await sleep(300);
    await cluster.replica(0).pause();
    try {
      await sleep(stallMs);
    } finally {
      await cluster.replica(0).resume();
    }
    stopped = true;
    await Promise.all(callers);
    const deadline = Date.now() + 20_000;
    while (!db.topology().some((n) => n.name === cluster.replica(0).name && n.inRotation)) {
      if (Date.now() > deadline) throw new Error('the replica did not come back into rotation');
      await sleep(50);
    }
    latencies.sort((a, b) => a - b);
    return {
      contender,
      reads: latencies.length,
      failed,
      p99Ms: latencies[Math.floor(0.99 * (latencies.length - 1))] ?? 0,
      worstMs: latencies[latencies.length - 1] ?? 0,
    };
  } finally {
    await db.close();
  }
}

export async function run(): Promise<{ title: string; markdown: string; rows: Row[] }> {
  const stallMs = envInt('BENCH_STALL_MS', 3_000);
  const cluster = await startCluster({ monitoring: false, servers: 0, replicas: 1 });
  try {
    await cluster.primary().query('CREATE TABLE app.kv (id INT PRIMARY KEY, v INT NOT NULL)');
    await cluster.primary().query('INSERT INTO app.kv VALUES (1, 1)');
    const until = Date.now() + 30_000;
    while ((await cluster.replica(0).query('SHOW TABLES FROM app LIKE "kv"')).length === 0) {
      if (Date.now() > until) throw new Error('the bench table did not replicate');
      await sleep(100);
    }
    const rows = [
      await measure(cluster, 'router defaults (readMs 5000, readTotalMs 10000)', {}, stallMs),
      await measure(
        cluster,
        'notes app (readMs 1000, readTotalMs 2500)',
        { readMs: 1_000, readTotalMs: 2_500 },
        stallMs,
      ),
      await measure(cluster, 'readMs 500', { readMs: 500, readTotalMs: 2_000 }, stallMs),
      await measure(
        cluster,
        'deadline longer than the stall (as before deadlines)',
        { readMs: 60_000, readTotalMs: 60_000 },
        stallMs,
      ),
    ];
    const table = [
      '| read deadlines | reads | failed | p99 ms | worst ms |',
      '| --- | ---: | ---: | ---: | ---: |',
      ...rows.map(
        (r) =>
          `| ${r.contender} | ${r.reads} | ${r.failed} | ${Math.round(r.p99Ms)} | ${Math.round(r.worstMs)} |`,
      ),
    ];
    const markdown = `${table.join('\n')}\n\nOne replica SIGSTOPped for ${stallMs} ms under ${CALLERS} callers reading back to back (point select); reads on the stalled replica's connections are abandoned at their deadline, cancelled with KILL QUERY and retried on the primary; the monitor takes the replica out of rotation after its probe timeout (1 s). Node ${process.version}.\n`;
    return { title: 'A SIGSTOPped replica under a steady read stream', markdown, rows };
  } finally {
    await cluster.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const result = await run();
  console.log(result.markdown);
}
