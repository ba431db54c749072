import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Cluster, type DbNode, type FailoverManagerHandle, startCluster } from '@rwsplit/cluster';
import { FailoverManager, type LogEvent, type ManagerStatus } from '@rwsplit/failover';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchText } from '../support/https.js';
import { LOAD_DDL, missingOn, plainWriters, type WriteLoad } from '../support/write-load.js';

// The managers among themselves (one leads, a dead leader is replaced, a manager dies half-way through a
// failover) and what they do with bad input: a replica stopped by hand, a wrong password, a broken config,
// two writable nodes at start-up.
const REPO_DIR = fileURLToPath(new URL('../../', import.meta.url));
// The managers' default lease: a dead leader's peer waits out the vote it lent before it may lead.
const LEASE_MS = 2_000;
// Another suite may run clusters on the same two cores: every bound is generous.
const TEST_TIMEOUT_MS = 120_000;
const HOOK_TIMEOUT_MS = 180_000;
/** An address nothing listens on: in-process managers get their votes from `askVote`, not over HTTP. */
const NOWHERE = 'http://127.0.0.1:1';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns a value; `Date.now()`-precise enough to time a takeover. */
async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 15_000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = (error as Error).message;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (${lastError})` : ''}`,
      );
    await sleep(intervalMs);
  }
}

async function isWritable(node: DbNode): Promise<boolean> {
  const [row] = await node.query('SELECT @@GLOBAL.read_only AS ro');
  return Number(row?.ro) === 0;
}

/** The running nodes that take writes now (`@@read_only = 0`), asked one by one. */
async function writableNodes(cluster: Cluster): Promise<string[]> {
  const running = cluster.dbNodes.filter((node) => node.running && !node.paused);
  const answers = await Promise.all(
    running.map(async (node) => ((await isWritable(node).catch(() => false)) ? node.name : undefined)),
  );
  return answers.filter((name): name is string => name !== undefined);
}

interface WritableRecord {
  readonly samples: number;
  /** Every sample that found more than one writable node. */
  readonly doubles: readonly { readonly atMs: number; readonly writable: readonly string[] }[];
}

/** Samples `writableNodes` every `intervalMs` until stopped: a split brain that lasts one sample is seen. */
function watchWritable(cluster: Cluster, intervalMs = 100): { stop(): Promise<WritableRecord> } {
  const started = Date.now();
  const doubles: { atMs: number; writable: string[] }[] = [];
  let samples = 0;
  let running = true;
  const done = (async () => {
    while (running) {
      const writable = await writableNodes(cluster);
      samples++;
      if (writable.length > 1) doubles.push({ atMs: Date.now() - started, writable });
      await sleep(intervalMs);
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      return { samples, doubles };
    },
  };
}

/** Who leads, and whom each other manager lends its vote to, in one round of status calls. */
async function leadership(
  handles: readonly FailoverManagerHandle[],
): Promise<{ leaders: string[]; following: Record<string, string | undefined> }> {
  const all = await Promise.all(handles.map((handle) => handle.status()));
  const following: Record<string, string | undefined> = {};
  for (const status of all) if (!status.leader) following[status.id] = status.standing.following;
  return { leaders: all.filter((s) => s.leader).map((s) => s.id), following };
}

/** A harness manager's configuration file, as JSON, to derive broken or foreign configurations from. */
function readConfig(handle: FailoverManagerHandle): Record<string, unknown> & {
  nodes: Record<string, unknown>[];
  password: string;
} {
  return JSON.parse(readFileSync(handle.configFile, 'utf8'));
}

function stateOf(status: ManagerStatus, node: DbNode): string | undefined {
  return status.nodes.find((n) => n.name === node.name)?.state;
}

/** The event names a manager process logged (its stdout, JSON lines, in `<stateDir>/failover/<id>.log`). */
function loggedEvents(cluster: Cluster, handle: FailoverManagerHandle): string[] {
  const text = readFileSync(join(cluster.stateDir, 'failover', `${handle.id}.log`), 'utf8');
  return text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => String((JSON.parse(line) as LogEvent).event));
}

async function runCli(args: readonly string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', 'packages/failover/src/cli.ts', ...args],
    { cwd: REPO_DIR, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  // A config it wrongly accepted would keep it running: end it, and the exit code says so.
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  try {
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    return { code, stderr };
  } finally {
    clearTimeout(timer);
  }
}

/** The managers' default `failAfter`: rounds with the primary unreachable before a failover. */
const FAIL_AFTER = 3;

/** `rwsplit_failover_failures_total` of one manager, summed over its reasons (`GET /metrics`, no token). */
async function failoverFailures(cluster: Cluster, handle: FailoverManagerHandle): Promise<number> {
  const ca = cluster.ca.certificatePem;
  const text = (await fetchText(`${handle.url}/metrics`, { ca, timeoutMs: 2_000 })).body;
  return text
    .split('\n')
    .filter((line) => line.startsWith('rwsplit_failover_failures_total'))
    .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
}

/**
 * Reproduces a failover cut short after the candidate forgot its source: kills the primary, waits until
 * every manager has seen it unreachable (below `failAfter`, so none has started a failover) and each
 * replica reconnecting to it, pauses the managers (SIGSTOP), and does to `reset` what the dying leader
 * did: stop fetching, apply the relay log, `STOP SLAVE; RESET SLAVE ALL`, read_only left ON. Then
 * resumes the managers. Resolves to when things happened, `Date.now()`.
 */
async function cutShortAfterForgetSource(
  cluster: Cluster,
  reset: DbNode,
): Promise<{ killedAt: number; pausedAt: number; resumedAt: number }> {
  const oldPrimary = cluster.primary();
  const replicas = cluster.replicas();
  const source = `${oldPrimary.host}:${oldPrimary.port}`;
  await oldPrimary.kill();
  const killedAt = Date.now();
  const deadline = killedAt + 15_000;
  let last = '';
  for (;;) {
    const statuses = await Promise.all(cluster.failover.map((handle) => handle.status()));
    last = JSON.stringify(
      statuses.map((s) => ({
        id: s.id,
        failures: s.primaryFailures,
        busy: s.busy,
        nodes: s.nodes.map((n) => `${n.name} ${n.state} ${n.source} ${n.detail.slice(0, 20)}`),
      })),
    );
    const late = statuses.find((s) => s.primaryFailures >= FAIL_AFTER || s.busy !== undefined);
    if (late !== undefined)
      throw new Error(`${late.id} reached failAfter before the managers could be paused: ${last}`);
    const seenGone = statuses.every(
      (s) =>
        s.primaryFailures >= 1 &&
        replicas.every((replica) => {
          const report = s.nodes.find((n) => n.name === replica.name);
          return report?.source === source && report.detail.startsWith('io Connecting');
        }),
    );
    if (seenGone) break;
    if (Date.now() > deadline) throw new Error(`the managers did not see ${oldPrimary.name} gone: ${last}`);
    await sleep(20);
  }
  for (const handle of cluster.failover) handle.pause();
  const pausedAt = Date.now();
  try {
    // What failover() does to the candidate before it opens it for writes, as far as forgetSource.
    await reset.query('STOP SLAVE IO_THREAD');
    await reset.query('START SLAVE SQL_THREAD');
    const [slave] = await reset.query('SHOW SLAVE STATUS');
    const [waited] = await reset.query('SELECT MASTER_GTID_WAIT(?, 10) AS w', [String(slave?.Gtid_IO_Pos)]);
    expect(Number(waited?.w)).toBe(0);
    await reset.query('STOP SLAVE');
    await reset.query('RESET SLAVE ALL');
    expect(await reset.replicationStatus()).toBeUndefined();
    expect(await isWritable(reset)).toBe(false);
  } finally {
    for (const handle of cluster.failover) handle.resume();
  }
  return { killedAt, pausedAt, resumedAt: Date.now() };
}

/**
 * The cut-short failover and what must follow it: the managers finish it within seconds, one node takes
 * writes, every other replica follows it, no acknowledged write is lost, and the failures counter stays.
 */
async function finishesCutShortFailover(cluster: Cluster, reset: DbNode): Promise<void> {
  const oldPrimary = cluster.primary();
  const replicas = cluster.replicas();
  await oldPrimary.query(LOAD_DDL);
  const before = await Promise.all(cluster.failover.map((handle) => handle.status()));
  const watch = watchWritable(cluster);
  let load: WriteLoad | undefined = plainWriters(cluster);
  let record: WritableRecord;
  try {
    await sleep(1_000);
    const { killedAt, pausedAt, resumedAt } = await cutShortAfterForgetSource(cluster, reset);
    const newPrimary = await cluster.waitForPrimary({ not: oldPrimary, timeoutMs: 15_000 });
    const writableMs = Date.now() - resumedAt;
    const firstAckMs = (await load.firstAckAfter(resumedAt, 15_000)) - resumedAt;
    await sleep(500);
    const report = await load.stop();
    load = undefined;
    const leader = await cluster.failoverLeader();
    const status = await until(`${leader.id} to report the failover`, async () => {
      const s = await leader.status();
      return s.lastFailover === undefined || s.failovers === before.find((b) => b.id === s.id)?.failovers
        ? undefined
        : s;
    });
    console.log(
      `${replicas.length} replica(s): primary SIGKILLed; managers paused ${pausedAt - killedAt} ms later, ` +
        `${reset.name} reset, managers resumed after ${resumedAt - pausedAt} ms; ` +
        `${leader.id} made ${newPrimary.name} writable ${writableMs} ms after that (its failover took ` +
        `${status.lastFailover?.durationMs} ms), first write acknowledged at ${firstAckMs} ms; ` +
        `${report.acknowledged.size} acknowledged, ${report.inDoubt} in doubt`,
    );
    expect(writableMs).toBeLessThan(10_000);
    expect(status.lastFailover).toMatchObject({
      kind: 'failover',
      from: oldPrimary.name,
      to: newPrimary.name,
    });
    expect(report.acknowledged.size).toBeGreaterThan(50);
    expect(await missingOn(newPrimary, report.acknowledged)).toEqual([]);
    for (const other of replicas.filter((replica) => replica !== newPrimary)) {
      await expect
        .poll(async () => other.replicationStatus(), { timeout: 15_000 })
        .toMatchObject({ ioRunning: true, sqlRunning: true, primaryHost: newPrimary.host });
      const [position] = await newPrimary.query('SELECT @@GLOBAL.gtid_binlog_pos AS pos');
      const [waited] = await other.query('SELECT MASTER_GTID_WAIT(?, 30) AS w', [String(position?.pos)]);
      expect(Number(waited?.w)).toBe(0);
      expect(await missingOn(other, report.acknowledged)).toEqual([]);
    }
    expect(await writableNodes(cluster)).toEqual([newPrimary.name]);
    // A failover that keeps failing would count up every round (4 a second): it does not.
    const failures = await Promise.all(cluster.failover.map((handle) => failoverFailures(cluster, handle)));
    await sleep(1_500);
    expect(await Promise.all(cluster.failover.map((handle) => failoverFailures(cluster, handle)))).toEqual(
      failures,
    );
    const failed = cluster.failover.flatMap((handle) =>
      loggedEvents(cluster, handle).filter((event) => event === 'failover.failed'),
    );
    console.log(
      `failures_total per manager: ${failures.join(', ')}; failover.failed logged ${failed.length}x`,
    );
    expect(failed).toEqual([]);
  } finally {
    await load?.stop();
    record = await watch.stop();
  }
  expect(record.doubles).toEqual([]);
  expect(record.samples).toBeGreaterThan(20);
}

describe('two managers and one replica', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({ monitoring: false, servers: 0, replicas: 1 });
  }, HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await cluster?.stop();
  }, HOOK_TIMEOUT_MS);

  it(
    'lets exactly one of two managers started together lead, and the lead does not flap over 2 s of rounds',
    async () => {
      expect(cluster.failover).toHaveLength(2);
      const first = await leadership(cluster.failover);
      expect(first.leaders).toHaveLength(1);
      const leader = first.leaders[0]!;
      const follower = cluster.failover.find((h) => h.id !== leader)!;
      // The harness returns once one leads; the other lends it its vote when the leader next asks (each
      // of its rounds), which may come a round later.
      const seenAt = Date.now();
      await until(`${follower.id} to follow ${leader}`, async () =>
        (await follower.status()).standing.following === leader ? true : undefined,
      );
      console.log(`${leader} leads; ${follower.id} followed it ${Date.now() - seenAt} ms after that`);
      const samples = [];
      // 9 samples 250 ms apart: about 8 rounds of each manager (intervalMs 250).
      for (let i = 0; i < 9; i++) {
        samples.push(await leadership(cluster.failover));
        await sleep(250);
      }
      expect(samples).toEqual(
        samples.map(() => ({ leaders: [leader], following: { [follower.id]: leader } })),
      );
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'hands the lead to the other manager within a few seconds of a SIGKILL, and the restarted one follows',
    async () => {
      const killed = await cluster.failoverLeader();
      const survivor = cluster.failover.find((h) => h !== killed)!;
      await killed.kill();
      const killedAt = Date.now();
      await until(
        `${survivor.id} to lead`,
        async () => ((await survivor.status()).leader ? true : undefined),
        15_000,
        25,
      );
      const takeoverMs = Date.now() - killedAt;
      console.log(
        `leader ${killed.id} SIGKILLed; ${survivor.id} led ${takeoverMs} ms later (lease ${LEASE_MS} ms)`,
      );
      // Its vote stays lent to the dead leader for one lease; then its locks and itself are 3 of 4 voters.
      expect(takeoverMs).toBeLessThan(LEASE_MS + 2_000);

      await killed.start();
      await expect
        .poll(async () => (await killed.status()).standing.following, { timeout: 10_000 })
        .toBe(survivor.id);
      const samples = [];
      for (let i = 0; i < 6; i++) {
        samples.push(await leadership(cluster.failover));
        await sleep(250);
      }
      expect(samples).toEqual(
        samples.map(() => ({ leaders: [survivor.id], following: { [killed.id]: survivor.id } })),
      );
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'reports a replica stopped by hand as stopped and leaves it stopped until it is started again',
    async () => {
      const leader = await cluster.failoverLeader();
      const replica = cluster.replica(0);
      await replica.stopReplication();
      try {
        await expect
          .poll(async () => stateOf(await leader.status(), replica), { timeout: 10_000 })
          .toBe('stopped');
        // Six rounds: long enough for a manager that "repairs" it to have done so.
        await sleep(1_500);
        expect(stateOf(await leader.status(), replica)).toBe('stopped');
        expect(await replica.replicationStatus()).toMatchObject({ ioRunning: false, sqlRunning: false });
      } finally {
        await replica.startReplication();
      }
      await expect
        .poll(async () => stateOf(await leader.status(), replica), { timeout: 10_000 })
        .toBe('replica');
      await expect
        .poll(async () => replica.replicationStatus(), { timeout: 10_000 })
        .toMatchObject({ ioRunning: true, sqlRunning: true, primaryHost: cluster.primary().host });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a manager with a wrong password sees every node unreachable, says why, does not lead and changes nothing',
    async () => {
      const leader = await cluster.failoverLeader();
      const before = await leader.status();
      const base = readConfig(leader);
      const events: LogEvent[] = [];
      const manager = new FailoverManager(
        {
          ...base,
          id: 'probe',
          managers: [{ id: 'probe', url: NOWHERE }],
          // Its API is never started: no certificate for it.
          api: undefined,
          password: `wrong-${base.password}`,
        },
        {
          log: (_level, entry) => events.push(entry),
          askVote: async () => ({ granted: false, supports: '' }),
        },
      );
      try {
        await manager.start();
        // A few more rounds: a wrong password does not get better with time.
        await sleep(1_000);
        const status = manager.status();
        expect(status.leader).toBe(false);
        expect(status.nodes.map((n) => [n.name, n.state])).toEqual(
          cluster.dbNodes.map((node) => [node.name, 'unreachable']),
        );
        for (const node of status.nodes) {
          expect(node.detail).toMatch(/Access denied/);
          expect(node.detail).toMatch(/check the manager account/);
        }
        expect(new Set(events.filter((e) => e.event === 'node.unreachable').map((e) => e.node))).toEqual(
          new Set(cluster.dbNodes.map((node) => node.name)),
        );
      } finally {
        await manager.stop();
      }
      const primary = cluster.primary();
      const replica = cluster.replica(0);
      expect(await isWritable(primary)).toBe(true);
      expect(await isWritable(replica)).toBe(false);
      expect(await replica.replicationStatus()).toMatchObject({
        ioRunning: true,
        sqlRunning: true,
        primaryHost: primary.host,
      });
      const after = await leader.status();
      expect({ leader: after.leader, primary: after.primary, failovers: after.failovers }).toEqual({
        leader: true,
        primary: before.primary,
        failovers: before.failovers,
      });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'the CLI refuses a config with a bad setting: exit code 2 and the setting named on stderr',
    async () => {
      const base = readConfig(cluster.failover[0]!);
      const nodes = base.nodes.map((node, index) => (index === 1 ? { ...node, port: 'x' } : node));
      const file = join(cluster.stateDir, 'bad-port.json');
      // Its own id and an address it cannot listen on: accepted by mistake, it could not pass for a manager.
      writeFileSync(
        file,
        JSON.stringify({ ...base, id: 'cli-probe', managers: [{ id: 'cli-probe', url: NOWHERE }], nodes }),
      );
      const { code, stderr } = await runCli(['run', '--config', file]);
      expect({ code, stderr }).toMatchObject({ code: 2, stderr: expect.stringContaining('nodes[1].port') });
      expect(stderr).toMatch(/expected an integer/);
    },
    TEST_TIMEOUT_MS,
  );
  it(
    'finishes a failover cut short after the only replica forgot its source (read-only, follows nobody)',
    async () => {
      // Last in this suite: the primary stays dead.
      await finishesCutShortFailover(cluster, cluster.replica(0));
    },
    TEST_TIMEOUT_MS,
  );
});

describe('a manager killed in the middle of a failover, two replicas', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({
      monitoring: false,
      servers: 0,
      replicas: 2,
      failover: { cooldownMs: 1_000 },
    });
    await cluster.primary().query(LOAD_DDL);
  }, HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await cluster?.stop();
  }, HOOK_TIMEOUT_MS);

  it(
    'the other manager completes it: one writable node, the other replica follows it, no acknowledged write lost',
    async () => {
      const watch = watchWritable(cluster);
      let load: WriteLoad | undefined;
      let record: WritableRecord;
      try {
        const oldPrimary = cluster.primary();
        const replicas = cluster.replicas();
        // Applied 2 s late, received at once (semi-sync acknowledges on receipt): the promotion waits for the
        // relay log, a window wide enough to kill the manager that does it.
        await Promise.all(replicas.map((replica) => replica.delayReplication(2_000)));
        load = plainWriters(cluster);
        await sleep(1_500);
        const [slave] = await replicas[0]!.query('SHOW SLAVE STATUS');
        const [applied] = await replicas[0]!.query('SELECT @@GLOBAL.gtid_slave_pos AS pos');
        expect(String(slave?.Gtid_IO_Pos)).not.toBe(String(applied?.pos));

        const killed = await cluster.failoverLeader();
        const survivor = cluster.failover.find((h) => h !== killed)!;
        await oldPrimary.kill();
        const killedAt = Date.now();
        await until(
          `${killed.id} to start the failover`,
          async () => ((await killed.status()).busy === 'failover' ? true : undefined),
          15_000,
          20,
        );
        const decidedMs = Date.now() - killedAt;
        await killed.kill();
        const managerKilledMs = Date.now() - killedAt;
        const events = loggedEvents(cluster, killed);
        expect(events).toContain('failover.decided');
        // Killed before it promoted anyone: what comes next is the survivor's doing.
        expect(events).not.toContain('failover.promoted');

        const newPrimary = await cluster.waitForPrimary({ not: oldPrimary, timeoutMs: 30_000 });
        const writableMs = Date.now() - killedAt;
        const firstAckMs = (await load.firstAckAfter(killedAt, 30_000)) - killedAt;
        await sleep(500);
        const report = await load.stop();
        load = undefined;
        const status = await until(`${survivor.id} to report the failover`, async () => {
          const s = await survivor.status();
          return s.lastFailover === undefined ? undefined : s;
        });
        console.log(
          `primary SIGKILLed; ${killed.id} decided ${decidedMs} ms later and was SIGKILLed at ${managerKilledMs} ms; ` +
            `${survivor.id} made ${newPrimary.name} writable at ${writableMs} ms (its own failover took ${status.lastFailover?.durationMs} ms), ` +
            `first write acknowledged at ${firstAckMs} ms; ${report.acknowledged.size} acknowledged, ${report.inDoubt} in doubt`,
        );
        expect(status.leader).toBe(true);
        expect(status.lastFailover).toMatchObject({
          kind: 'failover',
          from: oldPrimary.name,
          to: newPrimary.name,
        });
        expect(report.acknowledged.size).toBeGreaterThan(50);
        expect(await missingOn(newPrimary, report.acknowledged)).toEqual([]);

        const other = replicas.find((replica) => replica !== newPrimary)!;
        await expect
          .poll(async () => other.replicationStatus(), { timeout: 15_000 })
          .toMatchObject({ ioRunning: true, sqlRunning: true, primaryHost: newPrimary.host });
        const [position] = await newPrimary.query('SELECT @@GLOBAL.gtid_binlog_pos AS pos');
        // Still 2 s behind (MASTER_DELAY survives CHANGE MASTER): wait for it to apply everything.
        const [waited] = await other.query('SELECT MASTER_GTID_WAIT(?, 30) AS w', [String(position?.pos)]);
        expect(Number(waited?.w)).toBe(0);
        expect(await missingOn(other, report.acknowledged)).toEqual([]);
        expect(await writableNodes(cluster)).toEqual([newPrimary.name]);
      } finally {
        await load?.stop();
        record = await watch.stop();
      }
      // Sampled every 100 ms from before the delay to the end: never two nodes taking writes.
      expect(record.doubles).toEqual([]);
      expect(record.samples).toBeGreaterThan(20);
    },
    TEST_TIMEOUT_MS,
  );
});

describe('a failover cut short after the candidate forgot its source, two replicas', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({
      monitoring: false,
      servers: 0,
      replicas: 2,
      failover: { cooldownMs: 1_000 },
    });
  }, HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await cluster?.stop();
  }, HOOK_TIMEOUT_MS);

  it(
    'the managers finish it: one writable node, the other replica follows it, no acknowledged write lost',
    async () => {
      await finishesCutShortFailover(cluster, cluster.replica(0));
    },
    TEST_TIMEOUT_MS,
  );
});

describe('two writable nodes at start-up', () => {
  // The harness does not hand out the replication account; a manager's config needs it.
  const replication = { user: 'rwsplit_repl', password: randomBytes(12).toString('hex') };
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({
      monitoring: false,
      servers: 0,
      replicas: 1,
      failover: false,
      credentials: { replication },
    });
  }, HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await cluster?.stop();
  }, HOOK_TIMEOUT_MS);

  it(
    'reports a split brain naming both, refuses to act (both stay writable) and says so in its metrics',
    async () => {
      const primary = cluster.primary();
      const replica = cluster.replica(0);
      await replica.query('SET GLOBAL read_only = OFF');
      const { admin } = cluster.credentials;
      const events: LogEvent[] = [];
      const manager = new FailoverManager(
        {
          id: 'solo',
          managers: [{ id: 'solo', url: NOWHERE }],
          nodes: cluster.dbNodes.map((node) => ({ name: node.name, host: node.host, port: node.port })),
          user: admin.user,
          password: admin.password,
          replication,
          tls: { ca: cluster.ca.certificateFile },
        },
        { log: (_level, entry) => events.push(entry) },
      );
      try {
        await manager.start();
        expect(manager.status().view).toEqual({
          kind: 'split-brain',
          writable: [primary.name, replica.name],
        });
        // Six rounds, as leader or not: none may make either node read-only.
        await sleep(1_500);
        const status = manager.status();
        console.log(
          `split brain at start-up: manager leader=${status.leader}, view ${JSON.stringify(status.view)}`,
        );
        expect(status.view).toEqual({ kind: 'split-brain', writable: [primary.name, replica.name] });
        expect(await isWritable(primary)).toBe(true);
        expect(await isWritable(replica)).toBe(true);
        expect(manager.metrics.render()).toMatch(/^rwsplit_failover_split_brain 1$/m);
        expect(events.filter((e) => e.event === 'split-brain')).toMatchObject([
          { writable: [primary.name, replica.name] },
        ]);
      } finally {
        await manager.stop();
      }
    },
    TEST_TIMEOUT_MS,
  );
});
