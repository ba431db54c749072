import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, StatementTimeoutError, WriteOutcomeUnknownError } from '../src/index.js';
import { rigPerTest, until } from './setup.js';

const make = rigPerTest();

async function timedRejection(promise: Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const started = performance.now();
  try {
    await promise;
  } catch (error) {
    return { error, ms: performance.now() - started };
  }
  throw new Error('expected the promise to reject');
}

describe('read deadlines', () => {
  it('abandons a read past its deadline, cancels it on the server and answers from another replica', async () => {
    const { router, replicas } = make({ replicaCount: 2, timeouts: { readMs: 50 } });
    const [first, second] = replicas as [(typeof replicas)[0], (typeof replicas)[0]];
    first.hangNext(/SELECT/);
    const started = performance.now();
    const [rows] = await router.query('SELECT 1');
    const ms = performance.now() - started;
    expect(rows).toEqual([{ server: 'r2' }]);
    expect(ms).toBeGreaterThanOrEqual(45);
    // Cancelled on the stalled replica over a control connection of its own (not the abandoned one).
    await until(() => first.killed.length === 1);
    const hung = first.executed.find((e) => e.sql === 'SELECT 1');
    expect(first.killed).toEqual([hung?.connection]);
    const kill = first.executed.find((e) => e.sql.startsWith('KILL QUERY'));
    expect(kill?.connection).not.toBe(hung?.connection);
    // The abandoned connection is destroyed, never handed to the next read.
    expect([...first.connections].map((c) => c.id)).not.toContain(hung?.connection);
    expect(second.sqls).toEqual(['SELECT 1']);
  });

  it('retries on the primary when the only replica stalls', async () => {
    const { router, primary, replicas } = make({ timeouts: { readMs: 30 } });
    replicas[0]!.hangNext(/SELECT/);
    const [rows] = await router.query('SELECT 1');
    expect(rows).toEqual([{ server: 'p' }]);
    expect(primary.sqls).toEqual(['SELECT 1']);
  });

  it('fails a read that stalls everywhere with StatementTimeoutError within its whole budget', async () => {
    const { router, primary, replicas } = make({ timeouts: { readMs: 40, readTotalMs: 100 } });
    replicas[0]!.hangAll = /SELECT/;
    primary.hangAll = /SELECT/;
    const { error, ms } = await timedRejection(router.query('SELECT 1'));
    expect(error).toBeInstanceOf(StatementTimeoutError);
    expect(error).toMatchObject({ code: 'RWSPLIT_STATEMENT_TIMEOUT', retryable: true, node: 'primary' });
    // Two attempts of 40 ms: well inside the 100 ms budget, never more than one retry.
    expect(ms).toBeGreaterThanOrEqual(75);
    expect(ms).toBeLessThan(400);
    expect(replicas[0]!.sqls.filter((s) => s === 'SELECT 1')).toHaveLength(1);
    expect(primary.sqls.filter((s) => s === 'SELECT 1')).toHaveLength(1);
  });

  it('caps the retry by what is left of the budget', async () => {
    const { router, primary, replicas } = make({ timeouts: { readMs: 60, readTotalMs: 80 } });
    replicas[0]!.hangAll = /SELECT/;
    primary.hangAll = /SELECT/;
    const { error, ms } = await timedRejection(router.query('SELECT 1'));
    expect(error).toBeInstanceOf(StatementTimeoutError);
    expect(ms).toBeLessThan(60 + 60);
  });

  it('takes a per-call { timeoutMs } as the whole budget', async () => {
    const { router, primary, replicas } = make({ timeouts: { readMs: 5_000 } });
    replicas[0]!.hangAll = /SELECT/;
    primary.hangAll = /SELECT/;
    const { error, ms } = await timedRejection(router.query('SELECT 1', [], { timeoutMs: 60 }));
    expect(error).toBeInstanceOf(StatementTimeoutError);
    expect((error as StatementTimeoutError).timeoutMs).toBe(60);
    expect(ms).toBeLessThan(1_000);
  });

  it('refuses a timeoutMs that is not a positive number, running nothing', async () => {
    const { router, replicas } = make();
    await expect(router.query('SELECT 1', [], { timeoutMs: -1 })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    await expect(router.query('SELECT 1', [], { timeoutMs: Number.NaN })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    expect(replicas[0]!.executed).toHaveLength(0);
  });

  it('bounds the wait for a connection too: a read queued behind a busy pool moves on', async () => {
    const { router } = make({ pool: { max: 1 }, timeouts: { readMs: 40 } });
    let release: () => void = () => {};
    const holding = new Promise<void>((resolve) => {
      release = resolve;
    });
    // A read-only transaction holds the replica's only connection.
    const tx = router.transaction(() => holding, { readOnly: true });
    await until(() => router.pools().find((p) => p.name === 'replica-1')?.used === 1);
    const started = performance.now();
    const [rows] = await router.query('SELECT 1');
    expect(rows).toEqual([{ server: 'p' }]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(35);
    release();
    await tx;
  });

  it('leaves nothing in the deadline queue once statements finished', async () => {
    const { router } = make();
    for (let i = 0; i < 20; i++) await router.query('SELECT 1');
    await router.execute('INSERT INTO t VALUES (1)');
    const engine = (router as unknown as { engine: { deadlines: { size: number } } }).engine;
    expect(engine.deadlines.size).toBe(0);
  });
});

describe('write deadlines', () => {
  it('fails a write past its deadline as outcome unknown, cancels it, and never retries it', async () => {
    const { router, primary } = make({ timeouts: { writeMs: 50 } });
    primary.hangNext(/INSERT/);
    const { error, ms } = await timedRejection(router.execute('INSERT INTO t VALUES (1)'));
    expect(error).toBeInstanceOf(WriteOutcomeUnknownError);
    expect(error).toMatchObject({
      code: 'RWSPLIT_WRITE_OUTCOME_UNKNOWN',
      retryable: false,
      node: 'primary',
      reason: 'deadline passed',
    });
    expect((error as Error).message).toMatch(/may or may not have been applied/);
    expect(ms).toBeGreaterThanOrEqual(45);
    expect(primary.sqls.filter((s) => s.startsWith('INSERT'))).toHaveLength(1);
    await until(() => primary.killed.length === 1);
  });

  it('says a write that never got a connection changed nothing', async () => {
    const { router, primary } = make({ pool: { max: 1 }, timeouts: { writeMs: 40 } });
    const held = await router.getConnection();
    const { error } = await timedRejection(router.execute('INSERT INTO t VALUES (1)'));
    expect(error).toBeInstanceOf(StatementTimeoutError);
    expect(error).toMatchObject({ retryable: true });
    expect(primary.sqls.filter((s) => s.startsWith('INSERT'))).toHaveLength(0);
    held.release();
  });
});

describe('deadlines on held connections', () => {
  it('fails a stalled read in a pinned session without a retry and destroys the connection', async () => {
    const { router, primary } = make({ timeouts: { readMs: 40 } });
    const session = router.session();
    await session.query('SET @x := 1');
    const pinnedTo = [...primary.connections][0]!;
    primary.hangNext(/SELECT/);
    const { error } = await timedRejection(session.query('SELECT 1'));
    expect(error).toBeInstanceOf(StatementTimeoutError);
    expect(pinnedTo.closed).toBe(true);
    await session.end();
    expect(primary.connections.has(pinnedTo)).toBe(false);
  });

  it('reports a COMMIT past its deadline as a transaction of unknown outcome', async () => {
    const { router, primary } = make({ timeouts: { writeMs: 40 } });
    primary.hangNext(/^COMMIT/);
    await expect(
      router.transaction(async (tx) => {
        await tx.execute('INSERT INTO t VALUES (1)');
      }),
    ).rejects.toMatchObject({ code: 'RWSPLIT_TRANSACTION_UNKNOWN' });
  });
});
