/**
 * Kysely through the router: the same Kysely point select (`selectFrom('kv').select(['id', 'v'])
 * .where('id', '=', id)`) on `RwsplitKyselyDialect` over the router and on Kysely's own `MysqlDialect` over
 * a raw mysql2 pool, both aimed at the same MariaDB replica, side by side in one run. Target: the router's
 * throughput ≥ 0.97 of the raw pool's.
 *
 * Method: as orm-contenders.ts (router-overhead's rounds and medians). Kysely builds and compiles the query
 * in every contender alike. The router turns mysql2's per-statement stack capture (`trace`) off, so the raw
 * pool runs with it off too (the fair baseline) and, for reference, with mysql2's default. The last row is a
 * Kysely made per select over a fresh `router.session()`, as a handler would over `req.db`: what that
 * pattern costs.
 *
 * Run: `node --conditions=source --import tsx bench/orm-kysely.bench.ts` (env: see orm-contenders.ts).
 */
import { pathToFileURL } from 'node:url';
import { RwsplitKyselyDialect } from '@rwsplit/router/kysely';
import { Kysely, MysqlDialect } from 'kysely';
import { createPool } from 'mysql2';
import {
  type Contender,
  closeAll,
  measure,
  type OrmRow,
  packageVersion,
  routerOver,
  settings,
  startTarget,
  type Target,
  table,
} from './orm-contenders.js';

interface Database {
  kv: { id: number; v: string };
}

const BASELINE = 'Kysely, mysql2 pool (trace: false)';

function pointSelect(db: Kysely<Database>, id: number): Promise<unknown> {
  return db.selectFrom('kv').select(['id', 'v']).where('id', '=', id).executeTakeFirst();
}

export async function run(): Promise<{ title: string; markdown: string; rows: OrmRow[] }> {
  const s = settings();
  const contenders: Contender[] = [];
  let target: Target | undefined;
  try {
    target = await startTarget();
    for (const trace of [false, true]) {
      const pool = createPool({ ...target.connection, connectionLimit: s.poolSize, trace });
      const db = new Kysely<Database>({ dialect: new MysqlDialect({ pool }) });
      contenders.push({
        name: trace ? 'Kysely, mysql2 pool (default trace)' : BASELINE,
        select: (id) => pointSelect(db, id),
        close: () => db.destroy(),
      });
    }
    const router = await routerOver(target, s.poolSize);
    const db = new Kysely<Database>({ dialect: new RwsplitKyselyDialect({ db: router }) });
    contenders.push({
      name: 'Kysely, @rwsplit/router',
      select: (id) => pointSelect(db, id),
      close: async () => {
        await router.close();
      },
    });
    contenders.push({
      name: 'Kysely per select over router.session()',
      select: async (id) => {
        const session = router.session();
        try {
          return await pointSelect(
            new Kysely<Database>({ dialect: new RwsplitKyselyDialect({ db: session }) }),
            id,
          );
        } finally {
          session.release();
        }
      },
      close: async () => {},
    });

    const rows = await measure(contenders, s);
    const note = `Same MariaDB replica (TLS, as the harness runs it), ${s.concurrency} concurrent callers, ${s.poolSize} connections per pool, ${s.rounds} rounds of ${s.durationMs} ms after ${s.warmupMs} ms warm-up; Kysely ${packageVersion('kysely')}, Node ${process.version}, no OpenTelemetry SDK.`;
    const markdown = table(rows, BASELINE, note);
    console.log(markdown);
    return {
      title: 'Kysely through the router: point selects vs Kysely on a raw mysql2 pool',
      markdown,
      rows,
    };
  } finally {
    await closeAll(contenders, target);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await run();
}
