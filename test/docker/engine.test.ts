// The docker runtime's foundation for real: a Docker engine (the project's private dockerd when none
// answers), the five images built offline from a locally debootstrapped base, a container of each on the
// host network, a cached second pass, and nothing of the private engine left once it is released.
// Root on Linux only (the private engine is a root daemon); the first run debootstraps (a minute or two).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  acquireDockerEngine,
  type DockerEngine,
  PRIVATE_ENGINE,
} from '../../packages/cluster/src/docker/engine.js';
import {
  ensureImages,
  IMAGE_NAMES,
  type ImageBuild,
  type ImageName,
} from '../../packages/cluster/src/docker/images.js';
import { runCommand } from '../../packages/cluster/src/managed-process.js';
import { DockerApi } from '../../packages/cluster/src/runtime/docker-api.js';

const asRoot = process.platform === 'linux' && process.getuid?.() === 0;
const FIRST_BUILD_MS = 30 * 60_000;

let engine: DockerEngine | undefined;
let tags: Readonly<Record<ImageName, string>> | undefined;
const lines: string[] = [];

function theEngine(): DockerEngine {
  if (engine === undefined) throw new Error('no engine: acquiring it failed (see beforeAll)');
  return engine;
}

function theTags(): Readonly<Record<ImageName, string>> {
  if (tags === undefined) throw new Error('no images: building them failed (see the build test)');
  return tags;
}

/** `docker run --rm --network host <tag> <command...>`: its output, or a rejection with it. */
function run(tag: string, ...command: string[]): Promise<string> {
  return runCommand('docker', ['run', '--rm', '--network', 'host', tag, ...command], {
    env: { ...process.env, DOCKER_HOST: theEngine().dockerHost },
    timeoutMs: 60_000,
  });
}

async function imageIds(api: DockerApi, refs: readonly string[]): Promise<string[]> {
  return Promise.all(
    refs.map(async (ref) => (await api.call<{ Id: string }>('GET', `/images/${ref}/json`)).Id),
  );
}

/** PIDs in the engine's users directory that still run (read only: the module prunes under its lock). */
function otherUsers(): number[] {
  const pids = existsSync(PRIVATE_ENGINE.usersDir) ? readdirSync(PRIVATE_ENGINE.usersDir).map(Number) : [];
  return pids.filter((pid) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  });
}

/** Processes of the private engine, found independently of the module: by name, path and cgroup. */
function privateEngineProcesses(): string[] {
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      // A zombie has exited (init reaps it in its own time): it runs nothing.
      if (/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))) continue;
      const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      const cgroup = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
      const engineProgram = /^(dockerd|containerd.*|runc|docker-proxy)$/.test(comm);
      if (
        (engineProgram && cmdline.includes(PRIVATE_ENGINE.runDir)) ||
        cgroup.includes(`:${PRIVATE_ENGINE.cgroupParent}/`)
      )
        found.push(`${pid} ${comm}: ${cmdline}`);
    } catch {
      // exited while we looked
    }
  }
  return found;
}

describe.skipIf(!asRoot)('docker engine and images', () => {
  beforeAll(async () => {
    // Installing docker.io on a machine without it is part of acquiring.
    engine = await acquireDockerEngine({ log: (line) => lines.push(line) });
  }, 20 * 60_000);

  afterAll(async () => {
    await engine?.release();
    if (lines.length > 0) console.log(lines.join('\n'));
  }, 120_000);

  it('gives a private engine (or the one that answers) its socket and DOCKER_HOST', async () => {
    const engine = theEngine();
    expect(engine.dockerHost).toBe(`unix://${engine.socketPath}`);
    if (engine.owned) expect(engine.socketPath).toBe(PRIVATE_ENGINE.socketPath);
    const version = await new DockerApi(engine.socketPath).call<{ ApiVersion: string }>('GET', '/version');
    expect(version.ApiVersion).toMatch(/^1\.\d+$/);
  });

  it(
    'builds the five images, each tagged by the hash of its inputs',
    async () => {
      const builds: ImageBuild[] = [];
      tags = await ensureImages(theEngine(), IMAGE_NAMES, {
        log: (line) => lines.push(line),
        onBuild: (build) => builds.push(build),
      });
      for (const name of IMAGE_NAMES)
        expect(tags[name]).toMatch(new RegExp(`^rwsplit/${name}:[0-9a-f]{16}$`));
      // How long each build took, for the record (none when the cache already had them).
      for (const build of builds)
        lines.push(`build ${build.name} ${build.tag} ${(build.ms / 1000).toFixed(1)} s`);
    },
    FIRST_BUILD_MS,
  );

  it('runs the host version of mariadbd, since the harness initialises its data directories natively', async () => {
    const inContainer = await run(theTags().mariadb, 'mariadbd', '--version');
    expect(inContainer).toMatch(/Ver \d+\.\d+\.\d+-MariaDB/);
    const host = spawnSync('mariadbd', ['--version'], { encoding: 'utf8' });
    if (host.status === 0) expect(inContainer.trim()).toBe(host.stdout.trim());
  });

  it('runs haproxy, nginx and every monitoring program from their images', async () => {
    const tags = theTags();
    expect(await run(tags.haproxy, 'haproxy', '-v')).toMatch(/^HAProxy version \d/m);
    expect(await run(tags.nginx, 'nginx', '-v')).toMatch(/nginx version: nginx\/\d/);
    for (const program of [
      'prometheus',
      'prometheus-alertmanager',
      'prometheus-mysqld-exporter',
      'prometheus-node-exporter',
      'prometheus-blackbox-exporter',
    ]) {
      expect(await run(tags.monitoring, program, '--version')).toMatch(/version \d/);
    }
    expect(await run(tags.monitoring, 'prometheus-nginx-exporter', '--version')).toMatch(/version=\d/);
  });

  it("runs this process's own Node binary at its own path, reaching a listener on the host's loopback", async () => {
    const tags = theTags();
    expect((await run(tags.node, process.execPath, '--version')).trim()).toBe(process.version);
    expect((await run(tags.node, 'node', '--version')).trim()).toBe(process.version);
    // Host network: the container connects to a port only this test process listens on.
    const server: Server = await new Promise((resolve) => {
      const listening = createServer((socket) => socket.end('host\n')).listen(0, '127.0.0.1', () =>
        resolve(listening),
      );
    });
    try {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      const script = `require('net').connect(${port}, '127.0.0.1').on('data', (d) => { process.stdout.write(d); process.exit(0); }).on('error', () => process.exit(1))`;
      expect((await run(tags.node, process.execPath, '-e', script)).trim()).toBe('host');
    } finally {
      server.close();
    }
  });

  it('builds nothing the second time: same tags, same image ids, no build reported', async () => {
    const engine = theEngine();
    const first = theTags();
    const api = new DockerApi(engine.socketPath);
    const refs = IMAGE_NAMES.map((name) => first[name]);
    const idsBefore = await imageIds(api, refs);
    const builds: ImageBuild[] = [];
    const again = await ensureImages(engine, IMAGE_NAMES, { onBuild: (build) => builds.push(build) });
    expect(builds).toEqual([]);
    expect(again).toEqual(first);
    expect(await imageIds(api, refs)).toEqual(idsBefore);
  });

  it('stops the private engine on release once no other process uses it, leaving no process or socket', async () => {
    const held = theEngine();
    engine = undefined;
    await held.release();
    if (!held.owned) return; // someone else's engine: never stopped by us
    const users = otherUsers();
    expect(users).not.toContain(process.pid);
    if (users.length > 0) return; // a parallel suite still holds it: it stops when that one releases
    expect(privateEngineProcesses()).toEqual([]);
    expect(existsSync(PRIVATE_ENGINE.socketPath)).toBe(false);
    expect(existsSync(PRIVATE_ENGINE.pidFile)).toBe(false);
  });
});
