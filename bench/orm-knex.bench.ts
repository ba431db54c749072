/**
 * Knex through the router: the same knex point select (`knex('kv').select('id', 'v').where({ id }).first()`)
 * with `connectionPool: rwsplitPool(router)` and with `connectionPool` a raw mysql2 pool, both aimed at the
 * same MariaDB replica, side by side in one run. Target: the router's throughput ≥ 0.97 of the raw pool's.
 *
 * Method: as orm-contenders.ts (router-overhead's rounds and medians). Knex builds and compiles the query in
 * every contender alike. The raw pool runs with mysql2's `trace` off, as the router does (the fair
 * baseline), and for reference with mysql2's default; knex's own pool (`connection` settings, tarn) is there
 * too, as most knex apps run. The last row is what a request-scoped session costs through the function form,
 * `rwsplitPool(() => store.getStore() ?? router)`, with each select in its own `AsyncLocalStorage.run` over a
 * fresh `router.session()`, as `rwsplitMiddleware(db, { currentSession: true })` runs each request.
 *
 * Run: `node --conditions=source --import tsx bench/orm-knex.bench.ts` (env: see orm-contenders.ts).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { pathToFileURL } from 'node:url';
import type { Session } from '@rwsplit/router';
import { rwsplitPool } from '@rwsplit/router/knex';
import knex, { type Knex } from 'knex';
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

const BASELINE = 'knex, mysql2 pool (trace: false)';

function pointSelect(db: Knex, id: number): Promise<unknown> {
  return db('kv').select('id', 'v').where({ id }).first();
}

function knexContender(name: string, db: Knex, after: () => Promise<void> = async () => {}): Contender {
  return {
    name,
    select: (id) => pointSelect(db, id),
    close: async () => {
      await db.destroy();
      await after();
    },
  };
}

export async function run(): Promise<{ title: string; markdown: string; rows: OrmRow[] }> {
  const s = settings();
  const contenders: Contender[] = [];
  let target: Target | undefined;
  try {
    target = await startTarget();
    for (const trace of [false, true]) {
      const pool = createPool({ ...target.connection, connectionLimit: s.poolSize, trace });
      // knex 3.3's MySQLPoolLike types end()'s callback as (err?: Error), which mysql2's own Pool (err: ... |
      // null) does not satisfy under strict null checks; at run time knex takes it as it is.
      const db = knex({ client: 'mysql2', connectionPool: pool as unknown as Knex.MySQLPoolLike });
      const name = trace ? 'knex, mysql2 pool (default trace)' : BASELINE;
      contenders.push(knexContender(name, db, () => pool.promise().end()));
    }
    const own = knex({
      client: 'mysql2',
      connection: { ...target.connection, trace: false },
      pool: { min: 0, max: s.poolSize },
    });
    contenders.push(knexContender("knex, knex's own pool (tarn)", own));

    const router = await routerOver(target, s.poolSize);
    contenders.push(
      knexContender(
        'knex, @rwsplit/router',
        knex({ client: 'mysql2', connectionPool: rwsplitPool(router) }),
        () => router.close().then(() => {}),
      ),
    );
    const rows = await measure(contenders, s);

    // Second pass, with an AsyncLocalStorage in use: on Node 20 and 22 its hooks cost every promise of the
    // process something, so it runs after the first pass (where it would slow every contender), and the
    // baseline and the plain router run again beside it, under the same hooks.
    const store = new AsyncLocalStorage<Session>();
    const scoped = knex({ client: 'mysql2', connectionPool: rwsplitPool(() => store.getStore() ?? router) });
    const perSession: Contender = {
      name: 'knex, @rwsplit/router, a session per select (function form)',
      select: (id) => {
        const session = router.session();
        return store.run(session, () => pointSelect(scoped, id)).finally(() => session.release());
      },
      close: () => scoped.destroy(),
    };
    contenders.push(perSession);
    const hooked = await measure([contenders[0]!, contenders[3]!, perSession], s);

    const note = `Same MariaDB replica (TLS, as the harness runs it), ${s.concurrency} concurrent callers, ${s.poolSize} connections per pool, ${s.rounds} rounds of ${s.durationMs} ms after ${s.warmupMs} ms warm-up; knex ${packageVersion('knex')}, Node ${process.version}, no OpenTelemetry SDK.`;
    const markdown = [
      table(rows, BASELINE, note),
      '### With an AsyncLocalStorage in use (second pass)',
      '',
      table(
        hooked,
        BASELINE,
        "The function form, `rwsplitPool(() => currentSession() ?? router)`, is how one app-wide knex reads each request's `req.db`; the middleware's `currentSession: true` runs each request in an AsyncLocalStorage, as this pass runs each select.",
      ),
    ].join('\n');
    console.log(markdown);
    return { title: 'Knex through the router: point selects vs knex on a raw mysql2 pool', markdown, rows };
  } finally {
    await closeAll(contenders, target);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await run();
}
