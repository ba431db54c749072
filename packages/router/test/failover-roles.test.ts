import type { QueryResult } from 'mysql2/promise';
import { afterEach, describe, expect, it } from 'vitest';
import { PrimaryUnavailableError, ReplicaUnavailableError } from '../src/index.js';
import { MARIADB_REPLICA_RUNNING } from './dialect-fixtures.js';
import type { FakeServer } from './fake-driver.js';
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
