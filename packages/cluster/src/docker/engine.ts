import { findBinary } from '../binaries.js';
import { ClusterError } from '../errors.js';
import { tailFile } from '../managed-process.js';
import { waitFor } from '../wait.js';
import { hasBinary, installDebianPackages } from './apt-install.js';
import { endEngineLeftovers } from './engine-leftovers.js';
import { pingEngine, socketPathOf } from './engine-ping.js';
import { addUser, liveUsers, removeUser } from './engine-users.js';
import { ENGINE_UNAVAILABLE } from './error-codes.js';
import { withNamedLock } from './named-lock.js';
import {
  type DaemonProcess,
  PRIVATE_ENGINE,
  privateDaemon,
  removeDaemonLeftovers,
  startDaemon,
  stopDaemon,
} from './private-daemon.js';

export { PRIVATE_ENGINE } from './private-daemon.js';

/** A Docker engine this process may use until it calls `release()`. */
export interface DockerEngine {
  /** Its API socket, for node:http `socketPath` (and testcontainers, through `dockerHost`). */
  readonly socketPath: string;
  /** `unix://<socketPath>`: the DOCKER_HOST value for the docker CLI and testcontainers. */
  readonly dockerHost: string;
  /** True when the engine is the project's private dockerd (started here or by a sibling process). */
  readonly owned: boolean;
  /**
   * Lets the engine go. An engine the project does not own is never touched; the private one is stopped
   * once no live process uses it any more. Idempotent.
   */
  release(): Promise<void>;
}

export interface AcquireEngineOptions {
  /** Progress lines (installing, starting, reusing). Default: none. */
  readonly log?: ((line: string) => void) | undefined;
}

/** The socket a system Docker installation serves. */
const SYSTEM_SOCKET = '/var/run/docker.sock';
const ENGINE_LOCK = 'docker-engine';
// Long enough for a sibling that holds the lock to apt-get install docker.io on a slow mirror.
const LOCK_TIMEOUT_MS = 20 * 60_000;

// How many handles on the private engine this process holds: its users entry lives while this is > 0.
let heldHere = 0;

/**
 * A Docker engine for the docker runtime. One that already answers is used as it is: DOCKER_HOST's
 * (a unix socket) or the system's /var/run/docker.sock. Otherwise the project's private dockerd runs
 * (installing Debian's docker.io and debootstrap first if missing; root only): its own data root, exec
 * root, socket and containerd state, no bridge and no firewall rules (every container uses the host
 * network), shared by every process of the machine that acquires it and stopped when the last one
 * releases it. Sets nothing in process.env: callers point their clients at `dockerHost`.
 */
export async function acquireDockerEngine(options: AcquireEngineOptions = {}): Promise<DockerEngine> {
  const log = options.log ?? (() => {});
  const running = await runningEngine(log);
  if (running !== undefined) {
    log(`docker: using the engine at ${running}`);
    return {
      socketPath: running,
      dockerHost: `unix://${running}`,
      owned: false,
      release: async () => {},
    };
  }
  return acquirePrivateEngine(log);
}

/** The socket of an engine that is not ours and answers, if any. */
async function runningEngine(log: (line: string) => void): Promise<string | undefined> {
  const dockerHost = process.env.DOCKER_HOST;
  if (dockerHost !== undefined && dockerHost !== '') {
    const socket = socketPathOf(dockerHost);
    if (socket === undefined) {
      throw new ClusterError(
        `DOCKER_HOST=${dockerHost} is not a unix socket; the docker runtime runs containers on this machine's host network, so it needs a local engine: set DOCKER_HOST=unix:///path/to/docker.sock, or unset it to use the project's private engine`,
        'CLUSTER_INVALID_OPTION',
      );
    }
    // Our own socket (inherited from a parent that acquired it) still goes through the users bookkeeping.
    if (socket === PRIVATE_ENGINE.socketPath) return undefined;
    if (await pingEngine(socket)) return socket;
    log(
      `docker: DOCKER_HOST=${dockerHost} does not answer; trying ${SYSTEM_SOCKET}, then the private engine`,
    );
  }
  return (await pingEngine(SYSTEM_SOCKET)) ? SYSTEM_SOCKET : undefined;
}

async function acquirePrivateEngine(log: (line: string) => void): Promise<DockerEngine> {
  if (process.getuid?.() !== 0) {
    throw new ClusterError(
      `no Docker engine answers (DOCKER_HOST ${process.env.DOCKER_HOST ? 'silent' : 'unset'}, ${SYSTEM_SOCKET} silent) and starting the private one needs root: run as root, or start Docker and set DOCKER_HOST=unix:///path/to/docker.sock`,
      ENGINE_UNAVAILABLE,
    );
  }
  await withNamedLock(ENGINE_LOCK, 'the private docker engine', LOCK_TIMEOUT_MS, async () => {
    const others = liveUsers(PRIVATE_ENGINE.usersDir).filter((pid) => pid !== process.pid);
    const daemon = privateDaemon();
    if (daemon !== undefined && (others.length > 0 || heldHere > 0)) {
      await answering(daemon, others);
    } else {
      // Nobody uses a daemon that runs: a run that died left it, with whatever containers it had. A fresh
      // one starts from a clean slate (stopping dockerd stops those containers).
      if (daemon !== undefined) {
        log(`docker: restarting the private engine a dead run left (dockerd ${daemon.pid})`);
        await stopDaemon(daemon);
      }
      await endEngineLeftovers(PRIVATE_ENGINE);
      await ensureInstalled(log);
      await startDaemon(log);
    }
    addUser(PRIVATE_ENGINE.usersDir);
    heldHere += 1;
  });
  let released = false;
  return {
    socketPath: PRIVATE_ENGINE.socketPath,
    dockerHost: PRIVATE_ENGINE.dockerHost,
    owned: true,
    release: async () => {
      if (released) return;
      released = true;
      await releasePrivateEngine(log);
    },
  };
}

async function releasePrivateEngine(log: (line: string) => void): Promise<void> {
  await withNamedLock(ENGINE_LOCK, 'the private docker engine', LOCK_TIMEOUT_MS, async () => {
    heldHere -= 1;
    if (heldHere > 0) return;
    removeUser(PRIVATE_ENGINE.usersDir);
    const users = liveUsers(PRIVATE_ENGINE.usersDir);
    if (users.length > 0) {
      log(`docker: the private engine stays up for processes ${users.join(', ')}`);
      return;
    }
    await stopPrivateEngine(log);
  });
}

/**
 * Stops the private engine if no live process uses it: what a run that died (a test worker killed on
 * timeout) left running. For a suite's global teardown; true when there was something to stop.
 */
export async function stopUnusedPrivateEngine(options: AcquireEngineOptions = {}): Promise<boolean> {
  const log = options.log ?? (() => {});
  return withNamedLock(ENGINE_LOCK, 'the private docker engine', LOCK_TIMEOUT_MS, async () => {
    if (heldHere > 0 || liveUsers(PRIVATE_ENGINE.usersDir).length > 0) return false;
    if (privateDaemon() === undefined) {
      await removeDaemonLeftovers(log);
      return false;
    }
    await stopPrivateEngine(log);
    return true;
  });
}

async function stopPrivateEngine(log: (line: string) => void): Promise<void> {
  log('docker: stopping the private engine (no process uses it any more)');
  const daemon = privateDaemon();
  if (daemon !== undefined) await stopDaemon(daemon);
  await removeDaemonLeftovers(log);
}

/** A daemon others use must answer: stopping it under them would end their containers. */
async function answering(daemon: DaemonProcess, others: readonly number[]): Promise<void> {
  try {
    await waitFor(async () => ((await pingEngine(PRIVATE_ENGINE.socketPath)) ? true : undefined), {
      what: `the private dockerd (pid ${daemon.pid}) to answer on ${PRIVATE_ENGINE.socketPath}`,
      timeoutMs: 15_000,
      intervalMs: 200,
    });
  } catch (error) {
    throw new ClusterError(
      `the private dockerd (pid ${daemon.pid}), in use by processes ${others.join(', ') || process.pid}, does not answer on ${PRIVATE_ENGINE.socketPath}; last lines of ${PRIVATE_ENGINE.logFile}:\n${tailFile(PRIVATE_ENGINE.logFile, 30)}\nWait for those processes to finish (the last one stops it), or end them and try again.`,
      ENGINE_UNAVAILABLE,
      { cause: error },
    );
  }
}

async function ensureInstalled(log: (line: string) => void): Promise<void> {
  if (hasBinary('dockerd') && hasBinary('debootstrap')) return;
  // debian-archive-keyring: debootstrap only recommends it, and without it cannot check what it downloads.
  await installDebianPackages(['docker.io', 'debootstrap', 'debian-archive-keyring'], log);
  for (const binary of ['dockerd', 'containerd', 'runc', 'debootstrap']) findBinary(binary);
}
