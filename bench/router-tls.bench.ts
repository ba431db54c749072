/**
 * What TLS to the database costs the router's point selects: the same router, pool and query against
 * the same MariaDB replica, over TLS (the harness's default, certificate and address verified) and over
 * plain TCP, side by side in one run; raw mysql2 pools both ways for reference.
 *
 * Method: one database-only cluster; for the plain contenders only, the bench turns the replica's
 * `require_secure_transport` off and adds an account without REQUIRE SSL (nothing else in the cluster
 * changes). Then as in router-overhead: CONCURRENCY callers for DURATION_MS per round, contenders rotated
 * each round, medians. Client CPU per statement is the steadier figure; connections are opened in the
 * warm-up, so the handshake is not in the rounds (TLS costs per byte there, not per connection).
 *
 * Run: `node --conditions=source --import tsx bench/router-tls.bench.ts`
 * Env: as router-overhead (BENCH_DURATION_MS, BENCH_WARMUP_MS, BENCH_ROUNDS, BENCH_CONCURRENCY, BENCH_POOL).
 */
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { startCluster } from '@rwsplit/cluster';
import { createRouter } from '@rwsplit/router';
import mysql from 'mysql2/promise';
import {
  drive,
  envInt,
  type Measured,
  median,
  type PointSelect,
  SQL,
  seedKv,
} from './router-overhead.bench.js';

interface Contender {
  readonly name: string;
  readonly select: PointSelect;
  readonly close: () => Promise<void>;
}

interface TlsRow {
  readonly contender: string;
  readonly opsPerSecond: number;
  readonly cpuMicrosPerOp: number;
}

export async function run(): Promise<{ title: string; markdown: string; rows: TlsRow[] }> {
  const durationMs = envInt('BENCH_DURATION_MS', 3_000);
  const warmupMs = envInt('BENCH_WARMUP_MS', 1_000);
  const rounds = envInt('BENCH_ROUNDS', 5);
  const concurrency = envInt('BENCH_CONCURRENCY', 32);
  const poolSize = envInt('BENCH_POOL', 8);

  const cluster = await startCluster({ monitoring: false, servers: 0, replicas: 1, failover: false });
  const contenders: Contender[] = [];
  try {
    const primary = cluster.primary();
    const replica = cluster.replica(0);
    const plainPassword = randomBytes(18).toString('base64url');
    // Before the table: the replica has the account by the time it has the table's rows.
    await primary.query(`CREATE USER bench_plain@'127.0.0.1' IDENTIFIED BY '${plainPassword}'`);
    await primary.query(`GRANT SELECT ON app.* TO bench_plain@'127.0.0.1'`);
    await seedKv(primary, replica);
    await replica.query('SET GLOBAL require_secure_transport = OFF');

    const { user, password, database, ssl } = cluster.credentials.app;
    const node = { host: replica.host, port: replica.port };
    const accounts = {
      tls: { user, password, database, ssl },
      plain: { user: 'bench_plain', password: plainPassword, database },
    };
    const versions: Record<string, string> = {};
    for (const [kind, account] of Object.entries(accounts)) {
      const pool = mysql.createPool({ ...node, ...account, connectionLimit: poolSize });
      // What each side really speaks, so the table cannot label a plain connection TLS or the reverse.
      const [status] = await pool.query<mysql.RowDataPacket[]>("SHOW SESSION STATUS LIKE 'Ssl_version'");
      versions[kind] = String(status[0]?.Value ?? '') || 'none';
      contenders.push({
        name: `mysql2 pool, ${kind}`,
        select: (id) => pool.query(SQL, [id]),
        close: () => pool.end(),
      });
      const router = createRouter({
        primary: { host: primary.host, port: primary.port, name: primary.name },
        replicas: [{ ...node, name: replica.name }],
        connection: account,
        pool: { max: poolSize },
        monitor: false,
      });
      contenders.push({
        name: `@rwsplit/router, ${kind}`,
        select: (id) => router.query(SQL, [id]),
        close: async () => {
          await router.close();
        },
      });
    }

    for (const contender of contenders) await drive(contender.select, concurrency, warmupMs);
    const results = new Map<string, Measured[]>(contenders.map((c) => [c.name, []]));
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < contenders.length; i++) {
        const contender = contenders[(round + i) % contenders.length]!;
        results.get(contender.name)!.push(await drive(contender.select, concurrency, durationMs));
      }
    }
    const rows = contenders.map((c) => {
      const measured = results.get(c.name)!;
      return {
        contender: c.name,
        opsPerSecond: median(measured.map((m) => m.opsPerSecond)),
        cpuMicrosPerOp: median(measured.map((m) => m.cpuMicrosPerOp)),
      };
    });
    const row = (name: string) => rows.find((r) => r.contender === name)!;
    const ratio = (kind: 'router' | 'pool') => {
      const base = kind === 'router' ? '@rwsplit/router' : 'mysql2 pool';
      const tls = row(`${base}, tls`);
      const plain = row(`${base}, plain`);
      return {
        throughput: tls.opsPerSecond / plain.opsPerSecond,
        cpu: tls.cpuMicrosPerOp / plain.cpuMicrosPerOp,
      };
    };
    const router = ratio('router');
    const pool = ratio('pool');
    const lines = [
      '| contender | point selects/s (median) | client CPU µs/select |',
      '| --- | ---: | ---: |',
      ...rows.map(
        (r) => `| ${r.contender} | ${Math.round(r.opsPerSecond)} | ${r.cpuMicrosPerOp.toFixed(1)} |`,
      ),
      '',
      '| TLS ÷ plain | throughput | client CPU per select |',
      '| --- | ---: | ---: |',
      `| @rwsplit/router | ${router.throughput.toFixed(3)} | ${router.cpu.toFixed(3)} |`,
      `| mysql2 pool | ${pool.throughput.toFixed(3)} | ${pool.cpu.toFixed(3)} |`,
    ];
    if (versions.plain !== 'none' || !versions.tls?.startsWith('TLS')) {
      throw new Error(`the contenders do not speak what they are named for: ${JSON.stringify(versions)}`);
    }
    const note = `Same MariaDB replica, ${concurrency} concurrent callers, ${poolSize} connections per pool, ${rounds} rounds of ${durationMs} ms after ${warmupMs} ms warm-up (connections opened then); protocol: tls ${versions.tls}, plain ${versions.plain}; the cluster CA, the address checked by the router; Node ${process.version}.`;
    const markdown = `${lines.join('\n')}\n\n${note}\n`;
    console.log(markdown);
    return { title: 'TLS to the database: what it costs point selects', markdown, rows };
  } finally {
    for (const contender of contenders) await contender.close().catch(() => {});
    await cluster.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await run();
}
