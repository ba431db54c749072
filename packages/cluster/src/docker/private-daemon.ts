import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { findBinary } from '../binaries.js';
import { ClusterError } from '../errors.js';
import { tailFile } from '../managed-process.js';
import { waitFor } from '../wait.js';
import { endEngineLeftovers } from './engine-leftovers.js';
import { pingEngine } from './engine-ping.js';
import { ENGINE_UNAVAILABLE } from './error-codes.js';
import { processArgs, readProcStat, terminateProcess } from './host-processes.js';

const RUN_DIR = '/run/rwsplit-docker';

/**
 * Where the private engine lives. Its data root is the image cache and stays between runs; everything
 * under the runtime directory but the log and the (empty) users directory goes when it stops.
 */
export const PRIVATE_ENGINE = {
  runDir: RUN_DIR,
  socketPath: `${RUN_DIR}/docker.sock`,
  dockerHost: `unix://${RUN_DIR}/docker.sock`,
  execRoot: `${RUN_DIR}/exec`,
  pidFile: `${RUN_DIR}/dockerd.pid`,
  configFile: `${RUN_DIR}/daemon.json`,
  logFile: `${RUN_DIR}/dockerd.log`,
  /** Lists what of /run/docker a start of dockerd created (a fixed path of dockerd 20.10's plugin discovery). */
  madeSharedDirs: `${RUN_DIR}/made-run-docker`,
  /** One file per process using the engine (see engine-users.ts). */
  usersDir: `${RUN_DIR}/users`,
  dataRoot: '/var/lib/rwsplit-docker',
  /** Every container's cgroup lies below this one: how leftovers of a killed engine are found. */
  cgroupParent: '/rwsplit-docker',
} as const;

/** Where dockerd 20.10 looks for plugin sockets, whatever its exec root; it creates the directory. */
const SHARED_PLUGIN_DIR = '/run/docker/plugins';

const START_TIMEOUT_MS = 30_000;
// dockerd stops running containers within --shutdown-timeout; this covers it with room to spare.
const STOP_GRACE_MS = 30_000;

// The dockerd this process started, if it did: its exit is awaited on stop so that it is reaped here
// rather than left a zombie for init (some inits are slow to reap).
let startedHere: ChildProcess | undefined;

/** The private dockerd, by PID and start time (so a reused PID is never taken for it). */
export interface DaemonProcess {
  readonly pid: number;
  readonly startTime: number;
}

/** The private dockerd, when its pidfile names a live dockerd serving our socket (never a reused PID). */
export function privateDaemon(): DaemonProcess | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(PRIVATE_ENGINE.pidFile, 'utf8').trim());
  } catch {
    return undefined;
  }
  const stat = Number.isInteger(pid) && pid > 0 ? readProcStat(pid) : undefined;
  if (stat === undefined || stat.state === 'Z' || stat.comm !== 'dockerd') return undefined;
  const args = processArgs(pid) ?? [];
  return args.some((arg) => arg.includes(PRIVATE_ENGINE.socketPath))
    ? { pid, startTime: stat.startTime }
    : undefined;
}

/**
 * The private dockerd's command line (flags checked against dockerd 20.10, Debian 12's docker.io):
 * everything of its own (data root, exec root with its supervised containerd's state, pidfile, socket,
 * config file, containerd namespaces) so it can run beside a system Docker, and nothing that touches the
 * machine's network: no docker0 bridge, no iptables or ip6tables rules, no ip_forward sysctl. Cgroupfs
 * with a parent cgroup of its own puts every container process where the leftover sweep can find it.
 */
export function daemonArgs(): string[] {
  const engine = PRIVATE_ENGINE;
  return [
    `--data-root=${engine.dataRoot}`,
    `--exec-root=${engine.execRoot}`,
    `--pidfile=${engine.pidFile}`,
    `--host=${engine.dockerHost}`,
    `--config-file=${engine.configFile}`,
    '--containerd-namespace=rwsplit-docker',
    '--containerd-plugins-namespace=rwsplit-docker-plugins',
    '--bridge=none',
    '--iptables=false',
    '--ip6tables=false',
    '--ip-forward=false',
    '--ip-masq=false',
    '--userland-proxy=false',
    '--exec-opt=native.cgroupdriver=cgroupfs',
    `--cgroup-parent=${engine.cgroupParent}`,
    '--shutdown-timeout=5',
  ];
}

/** Starts the private dockerd and waits until it answers; on failure nothing of it is left running. */
export async function startDaemon(log: (line: string) => void): Promise<void> {
  const engine = PRIVATE_ENGINE;
  mkdirSync(engine.runDir, { recursive: true, mode: 0o711 });
  mkdirSync(engine.dataRoot, { recursive: true, mode: 0o711 });
  // A config of its own: /etc/docker/daemon.json belongs to the system Docker (and may set `hosts`), and
  // dockerd 20.10 would otherwise write its identity key to /etc/docker/key.json.
  writeFileSync(
    engine.configFile,
    `${JSON.stringify({ 'deprecated-key-path': `${engine.dataRoot}/key.json` })}\n`,
  );
  // Plugin discovery makes /run/docker/plugins; what of it did not exist is noted, so that stopping
  // removes only that (a marker from a start whose stop never came is kept: those dirs are still ours).
  const absent = [SHARED_PLUGIN_DIR, dirname(SHARED_PLUGIN_DIR)].filter((dir) => !existsSync(dir));
  if (absent.length > 0 && !existsSync(engine.madeSharedDirs))
    writeFileSync(engine.madeSharedDirs, `${JSON.stringify(absent)}\n`);
  // dockerd refuses to start over a pidfile whose PID runs, whoever has that PID now.
  rmSync(engine.pidFile, { force: true });
  rmSync(engine.socketPath, { force: true });
  log(`docker: starting the private engine on ${engine.socketPath} (log: ${engine.logFile})`);
  const out = openSync(engine.logFile, 'w');
  let exited: string | undefined;
  // Detached and not tied to this process's life: sibling processes share the daemon, and the last one to
  // release it stops it. A run that dies leaves it to the next acquire.
  const child = spawn(findBinary('dockerd'), daemonArgs(), {
    detached: true,
    stdio: ['ignore', out, out],
    env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/local/sbin:/usr/sbin:/sbin` },
  });
  closeSync(out);
  child.once('exit', (code, signal) => {
    exited = `dockerd exited (${signal ?? `exit code ${code}`})`;
  });
  child.once('error', (error) => {
    exited = `dockerd could not be started: ${error.message}`;
  });
  child.unref();
  startedHere = child;
  try {
    await waitFor(async () => ((await pingEngine(engine.socketPath, 1_000)) ? true : undefined), {
      what: `the private dockerd to answer on ${engine.socketPath}`,
      timeoutMs: START_TIMEOUT_MS,
      intervalMs: 100,
      abortIf: () => exited,
    });
  } catch (error) {
    const stat = child.pid === undefined ? undefined : readProcStat(child.pid);
    if (stat !== undefined) await terminateProcess(stat.pid, stat.startTime, 5_000);
    await endEngineLeftovers(engine);
    throw new ClusterError(
      `the private Docker engine did not start (${error instanceof Error ? error.message : String(error)}); last lines of ${engine.logFile}:\n${tailFile(engine.logFile, 30)}\nFix what the log names (a kernel without overlayfs or cgroups, a full disk) and try again.`,
      ENGINE_UNAVAILABLE,
      { cause: error },
    );
  }
}

/** SIGTERM (dockerd stops its containers and containerd), SIGKILL after a grace. */
export async function stopDaemon(daemon: DaemonProcess): Promise<void> {
  const child = startedHere?.pid === daemon.pid ? startedHere : undefined;
  const reaped =
    child === undefined || child.exitCode !== null || child.signalCode !== null
      ? undefined
      : once(child, 'exit');
  const ended = await terminateProcess(daemon.pid, daemon.startTime, STOP_GRACE_MS);
  if (reaped !== undefined) await Promise.race([reaped, sleep(2_000)]);
  if (child !== undefined) startedHere = undefined;
  if (!ended) {
    throw new ClusterError(
      `the private dockerd (pid ${daemon.pid}) did not end even after SIGKILL; look at it with ps -o stat,wchan -p ${daemon.pid}`,
      ENGINE_UNAVAILABLE,
    );
  }
}

/** After dockerd: whatever it left (containerd, shims, mounts), then its socket and runtime state. */
export async function removeDaemonLeftovers(log: (line: string) => void): Promise<void> {
  const engine = PRIVATE_ENGINE;
  const { mountsLeft } = await endEngineLeftovers(engine);
  rmSync(engine.socketPath, { force: true });
  rmSync(engine.pidFile, { force: true });
  rmSync(engine.configFile, { force: true });
  for (const dir of madeSharedDirs()) removeIfEmpty(dir);
  rmSync(engine.madeSharedDirs, { force: true });
  // Never a recursive delete through a mount that is still there: it would reach into image layers.
  if (mountsLeft.length === 0) rmSync(engine.execRoot, { recursive: true, force: true });
  else log(`docker: left ${engine.execRoot} in place, still mounted below it: ${mountsLeft.join(', ')}`);
}

/** The shared directories a start of ours created, deepest first. */
function madeSharedDirs(): string[] {
  try {
    const dirs = JSON.parse(readFileSync(PRIVATE_ENGINE.madeSharedDirs, 'utf8')) as unknown;
    return Array.isArray(dirs) ? dirs.filter((dir): dir is string => typeof dir === 'string') : [];
  } catch {
    return [];
  }
}

function removeIfEmpty(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // not empty (someone else's) or gone
  }
}
