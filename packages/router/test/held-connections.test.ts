import { EventEmitter } from 'node:events';
import type { QueryResult } from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { ControlConnection } from '../src/control-connection.js';
import type { DriverConnection } from '../src/driver.js';
import {
  AcquireTimeoutError,
  ConnectionLostError,
  HintRefusedError,
  type ReadSelector,
  RwsplitError,
  StatementTimeoutError,
  WriteOutcomeUnknownError,
} from '../src/index.js';
import { driverError } from './fake-driver.js';
import { type Rig, rigPerTest } from './setup.js';

// Sessions, transactions and leases around connections that stall, break or are released early: every
// wait bounded, no connection with two users, no session going on without the state it lost.

const make = rigPerTest();

const tick = (ms = 5) => new Promise((resolve) => setTimeout(resolve, ms));
const PENDING = Symbol('pending');

async function settledWithin(promise: Promise<unknown>, ms: number): Promise<unknown> {
  promise.catch(() => {});
  return Promise.race([
    promise.then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    ),
    new Promise((resolve) => setTimeout(resolve, ms, PENDING)),
  ]);
}

/** A MariaDB primary whose writes report GTID 0-1-5 when asked (session tracking off). */
function tracksGtid(rigged: Rig): void {
  rigged.primary.reply = (sql) =>
    (/last_gtid AS last_gtid/.test(sql)
      ? [{ last_gtid: '0-1-5' }]
      : [{ server: 'p' }]) as unknown as QueryResult;
}

describe('waits that used to have no bound', () => {
  it("bounds a session transaction's position bookkeeping after COMMIT, then reads from the primary", async () => {
    const r = make({ consistency: 'session', timeouts: { writeMs: 100 } });
    r.primary.hangNext(/last_gtid AS last_gtid/);
    const session = r.router.session();
    const outcome = await settledWithin(
      session.transaction(async (tx) => {
        await tx.query('INSERT INTO t VALUES (1)');
        return 'committed';
      }),
      1_000,
    );
    // The COMMIT went through: the caller gets its result, the session just cannot trust a replica now.
    expect(outcome).toEqual({ value: 'committed' });
    await session.query('SELECT 1');
    expect(r.replicas[0]!.sqls).toEqual([]);
    await session.end();
  });

  it("hands a write whose position was lost on to the next request's session: it reads the primary too", async () => {
    // A rolling restart's case: the INSERT is answered, the connection goes before its position is learned.
    // The response must still carry a token, or the user's next read (on the other server) hits a replica
    // that has not applied the write: the chaos table caught one such stale read.
    const r = make({ consistency: 'session', timeouts: { writeMs: 100 } });
    r.primary.hangNext(/last_gtid AS last_gtid/);
    const writer = r.router.session();
    expect(await settledWithin(writer.query('INSERT INTO t VALUES (1)'), 1_000)).not.toBe(PENDING);
    const token = writer.token();
    expect(token).toBeDefined();
    await writer.end();
    const next = r.router.session({ token });
    await next.query('SELECT * FROM t');
    expect(next.lastNode).toBe('primary');
    expect(r.replicas[0]!.sqls).toEqual([]);
    await next.end();
  });

  it('bounds the consistency wait of a read-only transaction on a stalled replica and falls back', async () => {
    const r = make({ consistency: 'session', timeouts: { readMs: 100, readTotalMs: 200 } });
    tracksGtid(r);
    const session = r.router.session();
    await session.query('INSERT INTO t VALUES (1)');
    expect(session.token()).toBeDefined();
    r.replicas[0]!.hangAll = /MASTER_GTID_WAIT/;
    const tx = await settledWithin(
      session.transaction(async (t) => t.node, { readOnly: true }),
      3_000,
    );
    expect(tx).toEqual({ value: 'primary' });
    const started = await settledWithin(session.query('START TRANSACTION READ ONLY'), 3_000);
    expect(started).not.toBe(PENDING);
    expect(session.node).toBe('primary');
    await session.query('COMMIT');
    await session.end();
  });

  it('reports a lease that cannot get a connection in time as AcquireTimeoutError, never an internal error', async () => {
    const r = make({ pool: { max: 1, acquireTimeoutMs: 50 } });
    const held = await r.router.getConnection();
    const pinned = (await settledWithin(r.router.getConnection(), 1_000)) as { error?: unknown };
    expect(pinned.error).toBeInstanceOf(AcquireTimeoutError);
    const tx = (await settledWithin(
      r.router.transaction(async () => 1),
      1_000,
    )) as { error?: unknown };
    expect(tx.error).toBeInstanceOf(AcquireTimeoutError);
    expect(tx.error).toBeInstanceOf(RwsplitError);
    held.release();
  });
});

describe('read-your-writes around writes of unknown outcome and multi-result statements', () => {
  it('reads from the primary after a write whose outcome is unknown', async () => {
    const r = make({ consistency: 'session', timeouts: { writeMs: 50 } });
    r.primary.hangNext(/INSERT/);
    const session = r.router.session();
    await expect(session.query('INSERT INTO t VALUES (1)')).rejects.toBeInstanceOf(WriteOutcomeUnknownError);
    const [rows] = await session.query('SELECT * FROM t WHERE id = 1');
    expect(rows).toEqual([{ server: 'p' }]);
    await session.end();
  });

  it('records the GTID a CALL committed even on a connection that already tracks positions', async () => {
    const r = make({ consistency: 'session' });
    r.primary.reply = (sql) => {
      if (/last_gtid AS last_gtid/.test(sql)) return [{ last_gtid: '0-1-5' }] as unknown as QueryResult;
      if (/^CALL/.test(sql)) {
        // mysql2's answer to a CALL with a result set: [rows, ResultSetHeader], the header with the GTID.
        return [
          [{ id: 1 }],
          { affectedRows: 1, stateChanges: { systemVariables: { last_gtid: '0-1-9' } } },
        ] as unknown as QueryResult;
      }
      return { affectedRows: 1 } as unknown as QueryResult;
    };
    r.replicas[0]!.reply = (sql) =>
      (/MASTER_GTID_WAIT/.test(sql) ? [{ waited: 0 }] : [{ server: 'r1' }]) as unknown as QueryResult;
    const session = r.router.session();
    await session.query('INSERT INTO t VALUES (1)');
    await session.query('CALL add_note(2)');
    await session.query('SELECT * FROM notes');
    const wait = r.replicas[0]!.executed.find((e) => /MASTER_GTID_WAIT/.test(e.sql));
    expect(wait?.values).toEqual(['0-1-9', expect.anything()]);
    await session.end();
  });
});

describe('a session whose pinned connection is busy, lost or only lent for a read-only transaction', () => {
  it('keeps the connection until a running statement finishes, even when released meanwhile', async () => {
    const r = make({ timeouts: { readMs: 100, readTotalMs: 200, writeMs: 300 } });
    const session = r.router.session();
    await session.query('BEGIN');
    await session.query('COMMIT');
    r.primary.hangNext(/SLOW/);
    const slow = session.query('SELECT SLOW');
    slow.catch(() => {});
    await tick();
    // rwsplitMiddleware releases on 'close', which also fires when the client goes away mid-request.
    session.release();
    await r.router.execute('INSERT INTO t VALUES (1)');
    const slowOn = r.primary.executed.find((e) => e.sql === 'SELECT SLOW')?.connection;
    const insertOn = r.primary.executed.find((e) => e.sql.startsWith('INSERT'))?.connection;
    expect(insertOn).not.toBe(slowOn);
    await expect(slow).rejects.toBeInstanceOf(StatementTimeoutError);
    await session.end();
    // The abandoned connection was destroyed, not handed to anyone.
    expect([...r.primary.connections].map((c) => c.id)).not.toContain(slowOn);
  });

  it('refuses to go on after a held connection was abandoned, instead of running without its transaction', async () => {
    const r = make({ timeouts: { readMs: 50, readTotalMs: 100 } });
    const session = r.router.session();
    await session.query('BEGIN');
    await session.query('INSERT INTO t VALUES (1)');
    r.primary.hangNext(/SLOW/);
    const error = await session.query('SELECT SLOW').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StatementTimeoutError);
    expect(error).toMatchObject({ retryable: false, connectionLost: true });
    await expect(session.query('INSERT INTO t VALUES (2)')).rejects.toBeInstanceOf(ConnectionLostError);
    expect(r.primary.sqls).not.toContain('INSERT INTO t VALUES (2)');
    await session.end();
  });

  it('reports a transaction whose connection was lost before COMMIT as rolled back, not unknown', async () => {
    const r = make({ timeouts: { readMs: 50, readTotalMs: 100 } });
    r.primary.hangNext(/SLOW/);
    const error = await r.router
      .transaction(async (tx) => {
        await tx.execute('INSERT INTO t VALUES (1)');
        await tx.query('SELECT SLOW').catch(() => {});
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectionLostError);
  });

  it('unpins a session whose START TRANSACTION READ ONLY failed', async () => {
    const r = make();
    r.replicas[0]!.failNext(/START TRANSACTION READ ONLY/, driverError('ECONNRESET', true), true);
    const session = r.router.session();
    await expect(session.query('START TRANSACTION READ ONLY')).rejects.toThrow();
    expect(session.pinned).toBe(false);
    await session.execute('INSERT INTO t VALUES (1)');
    expect(r.primary.sqls).toEqual(['INSERT INTO t VALUES (1)']);
    await session.end();
  });

  it('unpins a read-only transaction that fell back to the primary when it ends', async () => {
    const r = make();
    r.replicas[0]!.refuse = true;
    const session = r.router.session();
    await session.query('START TRANSACTION READ ONLY');
    expect(session.node).toBe('primary');
    await session.query('SELECT 1');
    await session.query('COMMIT');
    expect(session.pinned).toBe(false);
    await session.end();
  });

  it('refuses primary-only statements in a read-only transaction on a replica (GET_LOCK would lock nothing)', async () => {
    const r = make();
    const error = await r.router
      .transaction(async (tx) => tx.query("SELECT GET_LOCK('job', 1)"), { readOnly: true })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HintRefusedError);
    expect(r.replicas[0]!.sqls).not.toContain("SELECT GET_LOCK('job', 1)");
  });
});

describe('reads that wait for a busy replica', () => {
  it('go to another replica when the first one has no free connection in time', async () => {
    const first: ReadSelector = {
      select: (candidates, now, exclude) => candidates.find((c) => c.node !== exclude && c.isAvailable(now)),
    };
    const r = make({
      replicaCount: 2,
      readSelector: first,
      pool: { max: 1, acquireTimeoutMs: 50 },
      timeouts: { readMs: 2_000, readTotalMs: 4_000 },
    });
    r.replicas[0]!.hangNext(/SLOW/);
    const slow = r.router.query('SELECT SLOW');
    slow.catch(() => {});
    await tick();
    const [rows] = await r.router.query('SELECT 1');
    expect(rows).toEqual([{ server: 'r2' }]);
  });
});

describe('ControlConnection', () => {
  /** A connection whose socket 'end' arrives a while after destroy(), as mysql2's half-close does. */
  class SlowEnd extends EventEmitter {
    destroyed = false;
    constructor(readonly answerMs: number | undefined) {
      super();
    }
    query(): Promise<unknown> {
      return new Promise((resolve) => {
        if (this.answerMs !== undefined) setTimeout(() => resolve([[], []]), this.answerMs);
      });
    }
    destroy(): void {
      this.destroyed = true;
      setTimeout(() => this.emit('end'), 30);
    }
  }

  it("is not closed by its predecessor's late 'end'", async () => {
    const connections = [new SlowEnd(undefined), new SlowEnd(40)];
    let next = 0;
    const control = new ControlConnection(
      async () => connections[next++] as unknown as DriverConnection,
      100,
    );
    expect(await control.run('KILL QUERY ?', [1])).toBe(false);
    expect(await control.run('KILL QUERY ?', [2])).toBe(true);
    expect(connections[1]!.destroyed).toBe(false);
    control.close();
  });
});
