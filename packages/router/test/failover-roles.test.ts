import type { QueryResult } from 'mysql2/promise';
import { afterEach, describe, expect, it } from 'vitest';
import { PrimaryUnavailableError, ReplicaUnavailableError } from '../src/index.js';
import { MARIADB_REPLICA_RUNNING } from './dialect-fixtures.js';
import { driverError, type FakeServer } from './fake-driver.js';
import { type Rig, rig, until } from './setup.js';

/**
 * What the monitor sees of a fake server: its role and, for a replica, running replication threads.
 * Any other statement gets the server's default answer.
 */
function answerAs(server: FakeServer, role: { readOnly: boolean }): void {
  server.reply = (sql) => {
    const rows = (() => {
      if (sql.startsWith('SELECT VERSION()')) return [{ version: server.version }];
      if (sql.includes('@@GLOBAL.read_only')) return [{ read_only: role.readOnly ? 1 : 0 }];
      if (sql.startsWith('SHOW SLAVE STATUS')) return role.readOnly ? [MARIADB_REPLICA_RUNNING] : [];
      if (sql.includes('gtid_slave_pos')) return [{ gtid_slave_pos: '0-1-5', gtid_binlog_pos: '0-1-5' }];
      return [{ server: server.name }];
    })();
    return rows as unknown as QueryResult;
  };
}

let current: Rig | undefined;
afterEach(async () => {
  await current?.router.close();
  current = undefined;
});

const SEEN_IN_TIME = 'the monitor did not see the failover in time';

/** A primary `p` and a replica `r1`, then a failover: r1 is promoted, p demoted to a replica. */
async function failedOver(): Promise<Rig> {
  const primaryRole = { readOnly: false };
  const replicaRole = { readOnly: true };
  current = rig({
    monitor: { intervalMs: 10 },
    heartbeat: false,
    lag: { readmitAfterMs: 0 },
    circuitBreaker: { failureThreshold: 1 },
  });
  answerAs(current.primary, primaryRole);
  answerAs(current.replicas[0]!, replicaRole);
  await current.router.ready();
  primaryRole.readOnly = true;
  replicaRole.readOnly = false;
  const router = current.router;
  await until(
    () => {
      const nodes = router.topology();
      return nodes[1]?.role === 'primary' && nodes[0]?.role === 'replica' && nodes[0].inRotation;
    },
    2_000,
    SEEN_IN_TIME,
  );
  return current;
}

describe('errors after a failover name the role the statement routed to, not the configured one', () => {
  it('reports a write to the promoted replica that cannot connect as PrimaryUnavailableError', async () => {
    const r = await failedOver();
    r.replicas[0]!.refuse = true;
    const error = await r.router.execute('INSERT INTO t VALUES (1)').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PrimaryUnavailableError);
    expect(error).toMatchObject({ code: 'RWSPLIT_PRIMARY_UNAVAILABLE', node: 'replica-1', retryable: true });
  });

  it('retries a read whose replica, the demoted ex-primary, cannot connect, on another node', async () => {
    const r = await failedOver();
    r.primary.refuse = true;
    const [rows] = await r.router.query('SELECT 1');
    // The only other node is the new primary: the read falls back there.
    expect(rows).toEqual([{ server: 'r1' }]);
  });

  it('names a read that cannot go anywhere else ReplicaUnavailableError', async () => {
    current = undefined;
    const r = await failedOver();
    await r.router.close();
    current = rig({
      monitor: { intervalMs: 10 },
      heartbeat: false,
      lag: { readmitAfterMs: 0 },
      whenNoReplica: 'error',
    });
    const primaryRole = { readOnly: true };
    const replicaRole = { readOnly: false };
    answerAs(current.primary, primaryRole);
    answerAs(current.replicas[0]!, replicaRole);
    await current.router.ready();
    const router = current.router;
    await until(() => router.topology()[0]?.inRotation === true, 2_000, SEEN_IN_TIME);
    current.primary.refuse = true;
    const error = await router.query('SELECT 1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReplicaUnavailableError);
    expect(error).toMatchObject({ node: 'primary' });
  });
});

describe('a write refused by a read-only primary (a switchover) runs once on the next primary', () => {
  const READ_ONLY = () =>
    Object.assign(driverError('ER_OPTION_PREVENTS_STATEMENT', false, 1290), { sqlState: 'HY000' });

  async function twoNodes(): Promise<{
    r: Rig;
    primaryRole: { readOnly: boolean };
    replicaRole: { readOnly: boolean };
  }> {
    const primaryRole = { readOnly: false };
    const replicaRole = { readOnly: true };
    current = rig({ monitor: { intervalMs: 10 }, heartbeat: false, lag: { readmitAfterMs: 0 } });
    answerAs(current.primary, primaryRole);
    answerAs(current.replicas[0]!, replicaRole);
    await current.router.ready();
    return { r: current, primaryRole, replicaRole };
  }

  it('waits for the monitor to see the new primary and runs the write there', async () => {
    const { r, primaryRole, replicaRole } = await twoNodes();
    r.primary.failNext(/INSERT/, READ_ONLY());
    // The switchover completes a moment after the refusal.
    setTimeout(() => {
      primaryRole.readOnly = true;
      replicaRole.readOnly = false;
    }, 30);
    await r.router.execute('INSERT INTO t VALUES (1)');
    expect(r.replicas[0]!.executed.some((e) => e.sql.startsWith('INSERT'))).toBe(true);
  });

  it('fails with the refusal itself when no other node takes writes', async () => {
    const { r } = await twoNodes();
    r.primary.failNext(/INSERT/, READ_ONLY());
    await expect(r.router.execute('INSERT INTO t VALUES (1)', [], { timeoutMs: 300 })).rejects.toMatchObject({
      errno: 1290,
    });
    expect(r.replicas[0]!.executed.some((e) => e.sql.startsWith('INSERT'))).toBe(false);
  });

  it('never follows for a statement in a transaction: its work went with the connection', async () => {
    const { r } = await twoNodes();
    await expect(
      r.router.transaction(async (tx) => {
        r.primary.failNext(/INSERT/, READ_ONLY());
        await tx.execute('INSERT INTO t VALUES (1)');
      }),
    ).rejects.toMatchObject({ errno: 1290 });
    expect(r.replicas[0]!.executed.some((e) => e.sql.startsWith('INSERT'))).toBe(false);
  });

  it('follows at most once: refused again on the new primary, the write fails', async () => {
    const { r, primaryRole, replicaRole } = await twoNodes();
    r.primary.failNext(/INSERT/, READ_ONLY());
    const refusedAgain = READ_ONLY();
    r.replicas[0]!.failNext(/INSERT/, refusedAgain);
    setTimeout(() => {
      primaryRole.readOnly = true;
      replicaRole.readOnly = false;
      // And back, as if switched over again: a second follow would reach the old primary.
      setTimeout(() => {
        primaryRole.readOnly = false;
        replicaRole.readOnly = true;
      }, 60);
    }, 30);
    // The new primary's own refusal: it followed once; a second follow would have succeeded on the old one.
    await expect(r.router.execute('INSERT INTO t VALUES (2)')).rejects.toBe(refusedAgain);
    expect(r.primary.executed.some((e) => e.sql.startsWith('INSERT'))).toBe(false);
  });
});
