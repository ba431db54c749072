// Nothing of a docker cluster outlives its owner: testcontainers' reaper is off (its image comes from a
// registry), so the runtime reaps. A SIGTERMed `rwsplit-cluster --runtime docker` removes its containers
// on the way out; a SIGKILLed one cannot, and leaves them running (shown here, so the check can fail),
// until the next docker start on the machine removes every container whose owner is gone.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { type Cluster, startCluster } from '@rwsplit/cluster';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lockBlockNamed, unlockBlockNamed } from '../../packages/cluster/src/block-lock.js';
import { acquireDockerEngine, type DockerEngine } from '../../packages/cluster/src/docker/engine.js';
import { clusterContainers } from './support/engine.js';

const CLI = ['--conditions=source', '--import', 'tsx', 'packages/cluster/src/cli.ts'];
const SMALLEST = [
  '--runtime',
  'docker',
  '--servers',
  '0',
  '--replicas',
  '0',
  '--no-failover',
  '--no-monitoring',
];

let engine: DockerEngine | undefined;
const children: ChildProcess[] = [];

beforeAll(async () => {
  // The suite's own hold on the engine: it stays up between the runs it watches.
  engine = await acquireDockerEngine();
}, 900_000);

afterAll(async () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await engine?.release();
});

function socket(): string {
  if (engine === undefined) throw new Error('no engine');
  return engine.socketPath;
}

/** The CLI with a database-only docker cluster, once it has printed its endpoints. */
async function startCli(): Promise<{ child: ChildProcess; block: string }> {
  const child = spawn(process.execPath, [...CLI, '--json', ...SMALLEST], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  let errors = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    errors += chunk.toString();
  });
  child.stdout?.setEncoding('utf8');
  for await (const chunk of child.stdout ?? []) {
    output += chunk;
    if (output.includes('\n')) break;
  }
  if (!output.includes('\n')) throw new Error(`the CLI printed no endpoints: ${errors}`);
  return { child, block: (JSON.parse(output) as { block: string }).block };
}

describe('containers of a docker cluster whose owner is gone', () => {
  it('are removed by the CLI itself on SIGTERM', async () => {
    const { child, block } = await startCli();
    expect((await clusterContainers(socket(), block)).map((c) => c.service)).toEqual(['db-primary']);
    child.kill('SIGTERM');
    await once(child, 'exit');
    expect(await clusterContainers(socket(), block)).toEqual([]);
  }, 300_000);

  it('are left running by a SIGKILLed owner, and removed by the next docker start', async () => {
    const { child, block } = await startCli();
    child.kill('SIGKILL');
    await once(child, 'exit');
    // Nothing could clean up: the container and its mariadbd run on without an owner.
    expect((await clusterContainers(socket(), block)).map((c) => c.state)).toEqual(['running']);
    let next: Cluster | undefined;
    try {
      next = await startCluster({
        runtime: 'docker',
        servers: 0,
        replicas: 0,
        monitoring: false,
        failover: false,
      });
      expect(await clusterContainers(socket(), block)).toEqual([]);
    } finally {
      await next?.stop();
      // The dead owner's address-block lock: taken over (it is stale) and let go, so nothing is left.
      if (lockBlockNamed(block) !== 'busy') unlockBlockNamed(block);
    }
  }, 300_000);
});
