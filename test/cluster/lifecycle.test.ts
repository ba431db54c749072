import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, rmSync } from 'node:fs';
import { ClusterError, ECHO_APP, liveProcesses, startCluster } from '@rwsplit/cluster';
import { describe, expect, it } from 'vitest';
import { fetchText } from '../support/https.js';
import { processesUsing } from '../support/processes.js';

const CLI = ['--conditions=source', '--import', 'tsx', 'packages/cluster/src/cli.ts'];
// The package's bin runs no app of its own: the caller names one (`npm start` passes the notes app).
const ECHO_FLAG = ['--app', ECHO_APP.command.join(' ')];

async function failedStart(options: Parameters<typeof startCluster>[0]): Promise<ClusterError> {
  const error = await startCluster(options).then(
    () => new Error('the start should have failed'),
    (e: unknown) => e,
  );
  if (!(error instanceof ClusterError)) throw error;
  return error;
}

function stateDirOf(error: ClusterError): string {
  const dir = /state kept in (\S+)/.exec(error.message)?.[1];
  if (!dir) throw new Error(`no state dir in: ${error.message}`);
  return dir;
}

/** Starts the CLI with --json and resolves with the child and the endpoint handle it printed. */
/** The CLI run with `args` to its end: it must exit 1 (a refusal); what it printed on stderr. */
async function cliRefusal(args: readonly string[]): Promise<string> {
  const child = spawn(process.execPath, [...CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const [code] = await once(child, 'exit');
  expect(code, stderr).toBe(1);
  return stderr;
}

async function startCli(
  args: string[],
): Promise<{ child: ChildProcess; endpoints: { stateDir: string; block: string } }> {
  const child = spawn(process.execPath, [...CLI, '--json', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.setEncoding('utf8');
  for await (const chunk of child.stdout ?? []) {
    output += chunk;
    if (output.includes('\n')) break;
  }
  return { child, endpoints: JSON.parse(output) as { stateDir: string; block: string } };
}

describe('cluster lifecycle', () => {
  it('says which process failed and leaves no process behind when a start fails', async () => {
    const error = await failedStart({
      monitoring: false,
      servers: 1,
      replicas: 0,
      app: { command: [process.execPath, '-e', 'console.error("boom: no config"); process.exit(3)'] },
    });
    expect(error.code).toBe('CLUSTER_PROCESS_FAILED');
    expect(error.message).toContain('server-1 app exited (exit code 3)');
    expect(error.message).toContain('boom: no config');
    const stateDir = stateDirOf(error);
    expect(existsSync(stateDir)).toBe(true);
    expect(processesUsing(stateDir)).toEqual([]);
    expect(liveProcesses()).toEqual([]);
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('gives up on a process that never becomes ready within the bound', async () => {
    const started = Date.now();
    const error = await failedStart({
      monitoring: false,
      servers: 1,
      replicas: 0,
      startTimeoutMs: 2_000,
      app: { command: [process.execPath, '-e', 'setInterval(() => {}, 1000)'] },
    });
    expect(error.code).toBe('CLUSTER_NOT_READY');
    expect(error.message).toContain('server-1 app to answer /readyz');
    expect(Date.now() - started).toBeLessThan(20_000);
    const stateDir = stateDirOf(error);
    expect(processesUsing(stateDir)).toEqual([]);
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('rejects a pinned address block that is in use', async () => {
    const cluster = await startCluster({ monitoring: false, servers: 0, replicas: 0 });
    try {
      const error = await failedStart({ monitoring: false, servers: 0, replicas: 0, block: cluster.block });
      expect(error.code).toBe('CLUSTER_NO_FREE_BLOCK');
      expect(error.message).toContain(cluster.block);
    } finally {
      await cluster.stop();
    }
  });

  it('runs two clusters side by side in different blocks', async () => {
    const [a, b] = await Promise.all([
      startCluster({ monitoring: false, servers: 0, replicas: 0 }),
      startCluster({ monitoring: false, servers: 0, replicas: 0 }),
    ]);
    try {
      expect(a.block).not.toBe(b.block);
      expect(a.primary().port).toBe(b.primary().port);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
    expect(processesUsing(a.stateDir)).toEqual([]);
    expect(existsSync(a.stateDir)).toBe(false);
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`the CLI stops every process it started on ${signal}`, async () => {
      const { child, endpoints } = await startCli(['--servers', '1', '--replicas', '1', ...ECHO_FLAG]);
      try {
        expect(processesUsing(endpoints.stateDir).length).toBeGreaterThanOrEqual(5);
        const exited = once(child, 'exit');
        child.kill(signal);
        const [code] = await exited;
        expect(code).toBe(0);
        expect(processesUsing(endpoints.stateDir)).toEqual([]);
        expect(existsSync(endpoints.stateDir)).toBe(false);
        // As root the CLI puts each host in a network namespace (198.18.0.0/15): none may outlive it.
        const lab = /^198\.(18|19)\.(\d+)$/.exec(endpoints.block);
        if (lab) {
          const prefix = `rwsplit-${(Number(lab[1]) - 18) * 256 + Number(lab[2])}-`;
          const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
          expect(left.split('\n').filter((line) => line.startsWith(prefix))).toEqual([]);
        }
      } finally {
        // A failed assertion above must not leave the CLI (and its cluster) running.
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      }
    });
  }

  it('the CLI refuses servers without an app, naming the flag and the way out', async () => {
    const stderr = await cliRefusal(['--servers', '1']);
    expect(stderr).toContain('invalid cluster option app: required with servers: 1');
    expect(stderr).toContain('servers: 0 for a database-only cluster');
    expect(stderr).toContain('--app');
  });

  it('the CLI rejects a bad flag naming the allowed values', async () => {
    const stderr = await cliRefusal(['--balance', 'random']);
    expect(stderr).toContain('balance');
    expect(stderr).toContain('roundrobin | leastconn | source');
  });

  it('the CLI rejects a bad --runtime naming the allowed values', async () => {
    const stderr = await cliRefusal(['--servers', '0', '--runtime', 'podman']);
    expect(stderr).toContain('--runtime: expected native | docker, got podman');
  });
});

describe('active-passive', () => {
  it('sends everything to server-1 until it dies, then to server-2', async () => {
    const cluster = await startCluster({
      monitoring: false,
      servers: 2,
      replicas: 0,
      mode: 'active-passive',
      balance: 'leastconn',
      app: ECHO_APP,
    });
    try {
      const get = () => fetchText(`${cluster.lb.httpsUrl}/`, { ca: cluster.lb.certificatePem });
      for (let i = 0; i < 4; i++) expect((await get()).headers['x-served-by']).toBe('server-1');
      await cluster.server(0).app.kill();
      const deadline = Date.now() + 5_000;
      let served = '';
      while (Date.now() < deadline && served !== 'server-2') {
        const response = await get();
        served = String(response.headers['x-served-by']);
      }
      expect(served).toBe('server-2');
      for (let i = 0; i < 3; i++) expect((await get()).headers['x-served-by']).toBe('server-2');
    } finally {
      await cluster.stop();
    }
  });
});
