import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Cluster, type DbNode, startCluster } from '@rwsplit/cluster';
import type { NodeReport } from '@rwsplit/failover';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOAD_DDL, missingOn } from '../support/write-load.js';

// Asynchronous replication and a replica that is not receiving when the primary dies: the writes the
// primary acknowledged meanwhile exist only on it. The managers still promote the replica (its IO thread,
// restarted, cannot reach the primary), so those writes are lost, and the old primary, back, holds
// transactions the new one never got: it must stay out until an operator rebuilds it.
const LOST = 50;
// Short, so the test does not wait out the production default (60 s) if a second failover were due.
const FAILOVER = { cooldownMs: 1_000 };
// Several manager rounds (250 ms each by default).
const ROUNDS_MS = 1_500;
const REPO_DIR = fileURLToPath(new URL('../../', import.meta.url));
const CLI = 'packages/failover/src/cli.ts';
const ROWS_SQL = 'SELECT writer, seq FROM app.write_load ORDER BY 1, 2';

interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** `rwsplit-failover ...` as an operator runs it: its own process, from the TypeScript source. */
function cli(args: readonly string[], timeoutMs = 60_000, env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', CLI, ...args],
      { cwd: REPO_DIR, timeout: timeoutMs, env: { ...process.env, ...env } },
      (error, stdout, stderr) => {
        // A process killed by the timeout has no exit code: -1 keeps it from passing as success.
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr, ms: Date.now() - started });
      },
    );
  });
}

async function insertAsApp(cluster: Cluster, node: DbNode, writer: number, count: number): Promise<string[]> {
  const { app } = cluster.credentials;
  const connection = await mysql.createConnection({
    host: node.host,
    port: node.port,
    user: app.user,
    password: app.password,
    database: app.database,
    ssl: app.ssl,
  });
  const keys: string[] = [];
  try {
    for (let seq = 1; seq <= count; seq++) {
      // Each INSERT is its own autocommit transaction: its OK packet is the acknowledgement.
      await connection.query('INSERT INTO write_load (writer, seq, at) VALUES (?, ?, ?)', [
        writer,
        seq,
        Date.now(),
      ]);
      keys.push(`${writer}:${seq}`);
    }
  } finally {
    connection.destroy();
  }
  return keys;
}

async function one(node: DbNode, sql: string): Promise<unknown> {
  const [row] = await node.query(sql);
  return row === undefined ? undefined : Object.values(row)[0];
}

async function rows(node: DbNode): Promise<string[]> {
  return (await node.query(ROWS_SQL)).map((row) => `${Number(row.writer)}:${Number(row.seq)}`);
}

/** Waits until `replica` has applied everything `primary` has written so far. */
async function caughtUp(primary: DbNode, replica: DbNode): Promise<void> {
  const position = String(await one(primary, 'SELECT @@GLOBAL.gtid_binlog_pos'));
  const [row] = await replica.query('SELECT MASTER_GTID_WAIT(?, 20) AS waited', [position]);
  expect(Number(row?.waited), `${replica.name} applies up to ${position}`).toBe(0);
}

async function reportOf(cluster: Cluster, name: string): Promise<NodeReport | undefined> {
  const leader = await cluster.failoverLeader();
  return (await leader.status()).nodes.find((node) => node.name === name);
}

interface RebuiltEvent {
  readonly dumpAndLoadMs?: number;
  readonly droppedDatabases?: readonly string[];
}

/** The `node.rebuilt` lines of every manager's log (JSON lines, written by the manager processes). */
function rebuiltEvents(cluster: Cluster): RebuiltEvent[] {
  return cluster.failover.flatMap((manager) => {
    let text = '';
    try {
      text = readFileSync(manager.configFile.replace(/\.json$/, '.log'), 'utf8');
    } catch {
      return [];
    }
    return text
      .split('\n')
      .filter((line) => line.includes('"node.rebuilt"'))
      .map((line) => JSON.parse(line.slice(line.indexOf('{'))) as RebuiltEvent);
  });
}

describe('one replica, semi-sync off: a failover that loses writes leaves the old primary diverged', () => {
  let cluster: Cluster;
  let old: DbNode;
  let promoted: DbNode;
  let configFile: string;
  /** Acknowledged by the old primary while the replica received nothing. */
  let lost: string[] = [];
  /** Replicated before the fault: they must survive it. */
  let kept: string[] = [];
  /** The old primary's last GTID, which the new primary never got. */
  let extraGtid = '';
  /** Transactions the old primary's crash recovery rolled back (engine commit not yet durable). */
  let cutAtRecovery = 0;

  beforeAll(async () => {
    cluster = await startCluster({
      monitoring: false,
      servers: 0,
      replicas: 1,
      semiSync: false,
      failover: FAILOVER,
    });
    old = cluster.primary();
    configFile = cluster.failover[0]!.configFile;
    await old.query(LOAD_DDL);
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('promotes the replica by itself and the loss check finds exactly the writes it never received', async () => {
    const replica = cluster.replica(0);
    kept = await insertAsApp(cluster, old, 1, 10);
    await caughtUp(old, replica);
    await replica.query('STOP SLAVE IO_THREAD');
    lost = await insertAsApp(cluster, old, 2, LOST);
    extraGtid = String(await one(old, 'SELECT @@GLOBAL.gtid_binlog_pos'));
    await old.kill();
    // Stopped by hand, the replica says nothing about the primary: the managers must hold back.
    await expect
      .poll(async () => (await (await cluster.failoverLeader()).status()).verdict, { timeout: 10_000 })
      .toMatchObject({ agree: false, lost: [], cannotTell: ['db-replica-1'] });
    expect(Number(await one(replica, 'SELECT @@GLOBAL.read_only'))).toBe(1);
    // Restarted, its IO thread finds the primary gone (Connecting, 2003): the confirmation they wait for.
    await replica.query('START SLAVE IO_THREAD');
    promoted = await cluster.waitForPrimary({ not: old });
    expect(promoted.name).toBe('db-replica-1');
    const missing = await missingOn(promoted, new Set([...kept, ...lost]));
    console.log(
      `async failover with the replica's IO thread stopped: ${missing.length} of ${kept.length + lost.length} acknowledged writes lost (extra GTID on the old primary: ${extraGtid})`,
    );
    expect(missing).toEqual(lost);
    const { lastFailover } = await (await cluster.failoverLeader()).status();
    expect(lastFailover).toMatchObject({ kind: 'failover', from: 'db-primary', to: 'db-replica-1' });
  });

  it('keeps the restarted old primary read-only, not replicating, and reported diverged with its extra GTIDs', async () => {
    await insertAsApp(cluster, promoted, 3, 5);
    await old.restart();
    expect(Number(await one(old, 'SELECT @@GLOBAL.read_only'))).toBe(1);
    // Its recovery (init-rpl-role = SLAVE) may cut its last transactions, whose commit was not durable in
    // the engine yet: what it kept is what it has of its own.
    const kept = String(await one(old, 'SELECT @@GLOBAL.gtid_binlog_pos'));
    console.log(`old primary: ${extraGtid} before the kill, ${kept} after its recovery`);
    const seq = (gtid: string) => Number(gtid.split('-')[2]);
    cutAtRecovery = seq(extraGtid) - seq(kept);
    extraGtid = kept;
    expect(extraGtid).toMatch(new RegExp(`^0-${old.serverId}-\\d+$`));
    await expect
      .poll(async () => await reportOf(cluster, 'db-primary'), { timeout: 15_000, interval: 100 })
      .toMatchObject({ state: 'diverged', detail: expect.stringContaining(extraGtid) });
    // Rounds go by; nothing the leader does may let it take writes or start following.
    await new Promise((resolve) => setTimeout(resolve, ROUNDS_MS));
    expect(Number(await one(old, 'SELECT @@GLOBAL.read_only'))).toBe(1);
    const status = await old.replicationStatus();
    expect(status === undefined || !(status.ioRunning || status.sqlRunning)).toBe(true);
    expect((await reportOf(cluster, 'db-primary'))?.state).toBe('diverged');
    // It kept the writes the new primary never got, but for the last ones its recovery cut.
    expect(await missingOn(old, new Set(lost))).toEqual(lost.slice(lost.length - cutAtRecovery));
  });

  it('refuses a plain rejoin of the diverged node and names its extra GTIDs', async () => {
    const result = await cli(['rejoin', 'db-primary', '--config', configFile]);
    expect(result.code, result.stderr).not.toBe(0);
    expect(result.stderr).toContain(extraGtid);
    expect(result.stderr).toContain('--rebuild');
    expect(Number(await one(old, 'SELECT @@GLOBAL.read_only'))).toBe(1);
    expect(await old.replicationStatus()).toBeUndefined();
  });

  it('rebuilds it with rejoin --rebuild: it follows the new primary with exactly its rows', async () => {
    // The managers' own account may not write the data; the rebuild runs as the admin, for this call.
    const { admin } = cluster.credentials;
    const asManager = await cli(['rejoin', 'db-primary', '--rebuild', '--config', configFile], 90_000);
    expect(asManager.code, asManager.stdout).toBe(1);
    expect(asManager.stderr).toMatch(/lacks the global .*privileges for it; nothing was changed/);
    const result = await cli(['rejoin', 'db-primary', '--rebuild', '--config', configFile], 90_000, {
      RWSPLIT_REBUILD_USER: admin.user,
      RWSPLIT_REBUILD_PASSWORD: admin.password,
    });
    expect(result.code, `${result.stderr}\n${result.stdout}`).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ node: 'db-primary', outcome: 'following' });
    const [event] = rebuiltEvents(cluster);
    console.log(
      `rejoin --rebuild: CLI ${result.ms} ms, dump and load ${event?.dumpAndLoadMs ?? '?'} ms, dropped ${JSON.stringify(event?.droppedDatabases)}`,
    );
    await expect
      .poll(async () => await old.replicationStatus(), { timeout: 10_000 })
      .toMatchObject({ ioRunning: true, sqlRunning: true, primaryHost: promoted.host });
    await caughtUp(promoted, old);
    const expected = await rows(promoted);
    expect(await rows(old)).toEqual(expected);
    expect(await missingOn(old, new Set(lost))).toEqual(lost);
    // Its own transactions are gone from its history too, not only from its tables.
    expect(String(await one(old, 'SELECT @@GLOBAL.gtid_binlog_state'))).not.toContain(extraGtid);
    await expect
      .poll(async () => (await reportOf(cluster, 'db-primary'))?.state, { timeout: 10_000 })
      .toBe('replica');
    expect(Number(await one(old, 'SELECT @@GLOBAL.read_only'))).toBe(1);
    await insertAsApp(cluster, promoted, 4, 1);
    await caughtUp(promoted, old);
    expect(await rows(old)).toContain('4:1');
  });

  it('shows every node and the leader with rwsplit-failover status', async () => {
    const result = await cli(['status', '--config', configFile]);
    expect(result.code, result.stderr).toBe(0);
    console.log(result.stdout);
    expect(result.stdout).toMatch(/^manager manager-\d \(.*\): leader, /m);
    expect(result.stdout).toMatch(/^primary: db-replica-1$/m);
    expect(result.stdout).toMatch(/^ {2}db-primary +replica +io /m);
    expect(result.stdout).toMatch(/^ {2}db-replica-1 +primary +/m);
  });
});
