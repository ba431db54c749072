import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { acquireDockerEngine, type DockerEngine } from '../docker/engine.js';
import { processRuns, readProcStat } from '../docker/host-processes.js';
import { ensureImages, type ImageName } from '../docker/images.js';
import { ClusterError } from '../errors.js';
import { ContainerProcess, type SamePathMount } from './container-process.js';
import { DockerApi } from './docker-api.js';
import type { ProcessRuntime, RuntimeProcessSpec, SupervisedProcess } from './supervised-process.js';

/** Which image runs a program, by its binary's name: the images carry the same paths as this machine. */
const IMAGE_OF: Readonly<Record<string, ImageName>> = {
  mariadbd: 'mariadb',
  haproxy: 'haproxy',
  nginx: 'nginx',
  node: 'node',
  [basename(process.execPath)]: 'node',
  prometheus: 'monitoring',
  'prometheus-alertmanager': 'monitoring',
  'prometheus-mysqld-exporter': 'monitoring',
  'prometheus-node-exporter': 'monitoring',
  'prometheus-blackbox-exporter': 'monitoring',
  'prometheus-nginx-exporter': 'monitoring',
};

export const OWNER_LABEL = 'io.rwsplit.owner-pid';
/** The owner's boot and start time (`<boot id>:<clock ticks since boot>`): a reused PID is not it. */
const OWNER_START_LABEL = 'io.rwsplit.owner-start';
/** The owner's PID namespace: a PID from another namespace (a CI container sharing the engine) says nothing here. */
const OWNER_NAMESPACE_LABEL = 'io.rwsplit.owner-pid-namespace';
const RUNTIME_LABEL = 'io.rwsplit.runtime';
export const CLUSTER_LABEL = 'io.rwsplit.cluster';
/** The program's name in the harness (`db-primary`, `server-1 app`), as logs and errors say it. */
export const SERVICE_LABEL = 'io.rwsplit.service';

export interface DockerRuntimeOptions {
  /** The cluster's address block: part of every container's name and label. */
  readonly block: string;
  /** Bound read-write into every container at its own path (configs, data, sockets, logs, certificates). */
  readonly stateDir: string;
  /** Bound read-only into every container: the app's code, static files, the managers' CLI. */
  readonly codePaths: readonly string[];
  /** The images this cluster's programs need (built once, cached by content). */
  readonly images: readonly ImageName[];
  readonly startTimeoutMs: number;
  readonly log?: (line: string) => void;
}

/**
 * The docker runtime: every program a container on the host network (so each still binds its own
 * 127.X.Y.Z and nothing reaches a private range), started through testcontainers with its resource reaper
 * off (its image would come from a registry, which cannot be had here). This runtime reaps instead: every
 * container carries its owner's PID; `close()` removes the cluster's, an exit of this process removes them
 * synchronously, and the next start removes those whose owner is gone (a SIGKILLed run).
 */
export async function openDockerRuntime(options: DockerRuntimeOptions): Promise<ProcessRuntime> {
  const engine = await acquireDockerEngine({ log: options.log });
  try {
    const api = new DockerApi(engine.socketPath);
    await reapOrphans(api);
    const tags = await ensureImages(engine, options.images, { log: options.log });
    // testcontainers reads these when it first makes its client; set before it is loaded.
    process.env.DOCKER_HOST = engine.dockerHost;
    process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
    process.env.TESTCONTAINERS_HOST_OVERRIDE = '127.0.0.1';
    const { GenericContainer } = await import('testcontainers');
    return new DockerRuntime(options, engine, api, tags, GenericContainer);
  } catch (error) {
    await engine.release().catch(() => {});
    throw error;
  }
}

class DockerRuntime implements ProcessRuntime {
  readonly kind = 'docker' as const;
  private readonly live = new Set<string>();
  private readonly mounts: readonly SamePathMount[];
  private readonly removeAtExit = () => removeNow(this.engine, [...this.live]);
  private closed = false;

  constructor(
    private readonly options: DockerRuntimeOptions,
    private readonly engine: DockerEngine,
    private readonly api: DockerApi,
    private readonly tags: Readonly<Partial<Record<ImageName, string>>>,
    private readonly containers: typeof import('testcontainers').GenericContainer,
  ) {
    this.mounts = [
      { path: options.stateDir, mode: 'rw' },
      // The accounts the programs switch to (mariadbd --user=mysql) by this machine's numbers, which own
      // their directories in the state dir.
      { path: '/etc/passwd', mode: 'ro' },
      { path: '/etc/group', mode: 'ro' },
      ...codeMounts(options.codePaths),
    ];
    process.on('exit', this.removeAtExit);
  }

  process(spec: RuntimeProcessSpec): SupervisedProcess {
    const image = IMAGE_OF[basename(spec.command)];
    const tag = image === undefined ? undefined : this.tags[image];
    if (tag === undefined) {
      throw new ClusterError(
        `the docker runtime has no image for ${spec.name} (${spec.command}); it runs mariadbd, haproxy, nginx, Node programs and the monitoring programs`,
        'CLUSTER_INVALID_OPTION',
      );
    }
    return new ContainerProcess(spec, {
      image: tag,
      mounts: this.mounts,
      labels: {
        [RUNTIME_LABEL]: 'docker',
        [CLUSTER_LABEL]: this.options.block,
        [OWNER_LABEL]: String(process.pid),
        [OWNER_START_LABEL]: ownerStart(),
        [OWNER_NAMESPACE_LABEL]: pidNamespace(),
        [SERVICE_LABEL]: spec.name,
      },
      name: `rwsplit-${this.options.block.replaceAll('.', '-')}-${spec.name.replace(/[^\w.-]+/g, '-').replace(/^-|-$/g, '')}`,
      startTimeoutMs: this.options.startTimeoutMs,
      api: this.api,
      containers: this.containers,
      track: (id, live) => {
        if (live) this.live.add(id);
        else this.live.delete(id);
      },
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const id of this.live) {
      await this.api.call('DELETE', `/containers/${id}?force=true&v=true`).catch(() => {});
    }
    this.live.clear();
    process.off('exit', this.removeAtExit);
    await this.engine.release();
  }
}

/** Removes containers whose owner process is gone: what a SIGKILLed run left. */
export async function reapOrphans(api: DockerApi): Promise<number> {
  const filters = encodeURIComponent(JSON.stringify({ label: [RUNTIME_LABEL] }));
  const all = await api.call<{ Id: string; Labels?: Record<string, string> }[]>(
    'GET',
    `/containers/json?all=1&filters=${filters}`,
  );
  let reaped = 0;
  const namespace = pidNamespace();
  for (const container of all) {
    const labels = container.Labels ?? {};
    // Another PID namespace's owner cannot be looked up from here: its containers are left to it.
    if ((labels[OWNER_NAMESPACE_LABEL] ?? namespace) !== namespace) continue;
    const owner = Number(labels[OWNER_LABEL]);
    if (Number.isInteger(owner) && owner > 0 && ownerRuns(owner, labels[OWNER_START_LABEL])) continue;
    await api.call('DELETE', `/containers/${container.Id}?force=true&v=true`).catch(() => {});
    reaped += 1;
  }
  return reaped;
}

function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '';
  }
}

/** This process's OWNER_START_LABEL value ('' when /proc cannot tell). */
function ownerStart(): string {
  const stat = readProcStat(process.pid);
  return stat === undefined ? '' : `${bootId()}:${stat.startTime}`;
}

/** Whether the process a container's labels name still runs: same PID and, when recorded, same start. */
function ownerRuns(pid: number, start: string | undefined): boolean {
  if (start === undefined || start === '') return processRuns(pid);
  const [boot, ticks] = start.split(':');
  // Recorded before this boot: every process of that boot is gone.
  return boot === bootId() && processRuns(pid, Number(ticks));
}

function pidNamespace(): string {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return '';
  }
}

/** Synchronous removal for the process's 'exit' event (no event loop left to await the API). */
function removeNow(engine: DockerEngine, ids: readonly string[]): void {
  if (ids.length === 0) return;
  spawnSync('docker', ['rm', '-f', '-v', ...ids], {
    stdio: 'ignore',
    env: { ...process.env, DOCKER_HOST: engine.dockerHost },
    timeout: 10_000,
  });
}

/**
 * The directories to bind for code paths: each path's project root (the topmost directory above it with a
 * `node_modules`, so workspace links, tsx and hoisted dependencies resolve), else the path itself (a file's
 * directory). Never a system directory: the image's own files must stay the image's.
 */
export function codeMounts(paths: readonly string[]): SamePathMount[] {
  const roots = new Set<string>();
  for (const path of paths) {
    if (!path.startsWith('/') || !existsSync(path)) continue;
    const start = statSync(path).isDirectory() ? path : dirname(path);
    let root = start;
    for (let dir = start; dir !== dirname(dir); dir = dirname(dir)) {
      if (existsSync(join(dir, 'node_modules'))) root = dir;
    }
    if (SYSTEM_DIRS.has(root)) continue;
    roots.add(root);
  }
  // A root inside another is covered by it.
  const sorted = [...roots].sort();
  return sorted
    .filter((root) => !sorted.some((other) => other !== root && root.startsWith(`${other}/`)))
    .map((path) => ({ path, mode: 'ro' as const }));
}

const SYSTEM_DIRS = new Set([
  '/',
  '/usr',
  '/usr/bin',
  '/usr/lib',
  '/usr/local',
  '/etc',
  '/bin',
  '/lib',
  '/opt',
  '/tmp',
]);
