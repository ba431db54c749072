// The whole topology with `runtime: 'docker'`: every program a container (images built here from Debian's
// packages, started through testcontainers) on the host network, each host on its own loopback address.
// The assertions are the native suites' own (test/support/lb-checks.ts, test/e2e/support/*), run against
// containers: round robin through HAProxy, an app container killed and brought back, a frozen replica
// container under a read stream, read-your-writes across servers. Nothing may be left behind.
import { readFileSync } from 'node:fs';
import { type Cluster, startCluster } from '@rwsplit/cluster';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireDockerEngine, type DockerEngine } from '../../packages/cluster/src/docker/engine.js';
import {
  delayTheReplica,
  expectNoStaleReadsWithCookie,
  expectStaleReadsWithoutCookie,
  LAGGING_REPLICA_STAYS_IN_ROTATION,
} from '../e2e/support/read-your-writes.js';
import { expectStalledReplicaServed } from '../e2e/support/stalled-replica.js';
import { expectAlternation, expectKilledAppOutAndBack } from '../support/lb-checks.js';
import { expectEveryPartScraped, FULL_TOPOLOGY_TARGETS } from '../support/monitoring-checks.js';
import { NOTES_APP } from '../support/notes-app.js';
import { clusterContainers } from './support/engine.js';

/** A page of notes: answered by the app (through Nginx), so X-Served-By names the server. */
const THROUGH_APP = '/api/notes?limit=1';

let cluster: Cluster | undefined;
/** The suite's own hold on the engine, so it outlives the cluster and can be asked what is left. */
let engine: DockerEngine | undefined;

function running(): Cluster {
  if (cluster === undefined) throw new Error('the docker cluster did not start');
  return cluster;
}

beforeAll(async () => {
  engine = await acquireDockerEngine();
  // The first run here builds the images (debootstrap and apt): minutes, once per machine.
  // Monitoring off, as in the native suites these checks come from: its blackbox probe of the public URL
  // would be a second client of the LB and break the strict round-robin check. The monitoring containers
  // have a cluster of their own below.
  cluster = await startCluster({
    runtime: 'docker',
    monitoring: false,
    servers: 2,
    replicas: 1,
    app: { ...NOTES_APP, env: LAGGING_REPLICA_STAYS_IN_ROTATION },
  });
}, 900_000);

afterAll(async () => {
  await cluster?.stop();
  await engine?.release();
});

function engineSocket(): string {
  if (engine === undefined) throw new Error('no engine');
  return engine.socketPath;
}

describe('the topology as containers (runtime: docker)', () => {
  it('runs every program as a container on the host network', async () => {
    const c = running();
    expect(c.runtime).toBe('docker');
    const containers = await clusterContainers(engineSocket(), c.block);
    const services = containers.map((each) => each.service).sort();
    console.log(`containers of ${c.block}: ${services.join(', ')}`);
    for (const expected of [
      'db-primary',
      'db-replica-1',
      'server-1 app',
      'server-1 nginx',
      'server-2 app',
      'server-2 nginx',
      'lb (haproxy)',
      'manager-1',
      'manager-2',
    ]) {
      expect(services, expected).toContain(expected);
    }
    expect(containers.filter((each) => each.networkMode !== 'host')).toEqual([]);
    expect(containers.filter((each) => each.state !== 'running')).toEqual([]);
    // A program's PID is the program's on this machine (under the container's init), for /proc readings.
    const command = (pid: number | undefined) =>
      readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    expect(command(c.primary().pid)).toContain('mariadbd');
    expect(command(c.server(0).app.pid)).toContain('main.ts');
  });

  it('alternates requests between server-1 and server-2 over TLS', async () => {
    await expectAlternation(running(), THROUGH_APP);
  });

  it('takes a killed app container out of rotation and back after restart', async () => {
    await expectKilledAppOutAndBack(running(), THROUGH_APP);
  });

  it('serves a stream of reads while the replica container is frozen: none fails, none waits 3 s', async () => {
    await expectStalledReplicaServed(running());
  });

  it('never reads stale data through the other server with the cookie, and does without it', async () => {
    const c = running();
    await delayTheReplica(c);
    await expectNoStaleReadsWithCookie(c, 100);
    await expectStaleReadsWithoutCookie(c, 20);
  }, 120_000);

  it('leaves no container behind when it stops', async () => {
    const c = running();
    await c.stop();
    cluster = undefined;
    expect(await clusterContainers(engineSocket(), c.block)).toEqual([]);
  });
});

describe('the monitoring host as containers (runtime: docker)', () => {
  it('scrapes every part of the containerised topology, each target up', async () => {
    const c = await startCluster({ runtime: 'docker', servers: 2, replicas: 1, app: NOTES_APP });
    try {
      const services = (await clusterContainers(engineSocket(), c.block)).map((each) => each.service);
      for (const expected of ['prometheus', 'alertmanager', 'blackbox-exporter', 'node-exporter']) {
        expect(services, expected).toContain(expected);
      }
      await expectEveryPartScraped(c, FULL_TOPOLOGY_TARGETS);
    } finally {
      await c.stop();
    }
    expect(await clusterContainers(engineSocket(), c.block)).toEqual([]);
  }, 300_000);
});
