import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { findBinary } from '../binaries.js';
import { allPids, processArgs, processCgroups, readProcStat, terminateProcess } from './host-processes.js';

/** Where the private engine keeps what it runs; the leftovers of a dead engine are found by these. */
export interface EngineLocation {
  /** Its runtime directory (socket, exec root with containerd's socket and state). */
  readonly runDir: string;
  /** Its data root (images, layers, containers' writable layers). */
  readonly dataRoot: string;
  /** The cgroup every container of it is placed under (`--cgroup-parent`), e.g. `/rwsplit-docker`. */
  readonly cgroupParent: string;
}

// The engine's own programs, by their kernel name (15 bytes: every containerd-shim-* reads `containerd-shim`).
const ENGINE_PROGRAMS = new Set([
  'dockerd',
  'containerd',
  'containerd-shim',
  'runc',
  'docker-proxy',
  'docker-init',
]);

/**
 * Processes the private engine left running: its daemons and shims (by name, with its runtime directory
 * on their command line) and the processes of its containers (by cgroup). Never anything else: a program
 * that merely mentions the directory is not the engine's.
 */
export function engineProcesses(where: EngineLocation): {
  readonly daemons: number[];
  readonly containers: number[];
} {
  const daemons: number[] = [];
  const containers: number[] = [];
  const cgroup = `${where.cgroupParent}/`;
  for (const pid of allPids()) {
    const stat = readProcStat(pid);
    if (stat === undefined || stat.state === 'Z') continue;
    const args = processArgs(pid);
    if (args === undefined || args.length === 0) continue; // kernel threads
    if (ENGINE_PROGRAMS.has(stat.comm) && args.some((arg) => arg.includes(where.runDir))) daemons.push(pid);
    else if (processCgroups(pid).some((path) => path.startsWith(cgroup))) containers.push(pid);
  }
  return { daemons, containers };
}

/**
 * Ends what a dead or stopped engine left: container processes first (SIGKILL: their engine is gone, no
 * one will stop them gracefully), then shims and containerd (SIGTERM, SIGKILL after a grace), and
 * finally the mounts it left under its directories (overlay layers of containers that were running when
 * dockerd was killed), so nothing of it stays running or mounted.
 */
export async function endEngineLeftovers(where: EngineLocation): Promise<{ readonly mountsLeft: string[] }> {
  const { containers } = engineProcesses(where);
  await Promise.all(containers.map((pid) => endByPid(pid, 0)));
  const { daemons } = engineProcesses(where);
  await Promise.all(daemons.map((pid) => endByPid(pid, 5_000)));
  const dirs = [where.runDir, where.dataRoot];
  for (const point of mountPointsUnder(readMountinfo(), dirs)) {
    // Lazy: a mount still held open by a dying process is detached now and freed when that process ends.
    spawnSync(findBinary('umount'), ['-l', point], { stdio: 'ignore' });
  }
  return { mountsLeft: mountPointsUnder(readMountinfo(), dirs) };
}

async function endByPid(pid: number, graceMs: number): Promise<void> {
  const stat = readProcStat(pid);
  if (stat !== undefined) await terminateProcess(pid, stat.startTime, graceMs);
}

/**
 * The mount points in a `/proc/self/mountinfo` text that an engine leaves under `dirs`, deepest first so
 * each can be unmounted before its parent: everything below a directory, and a directory bound onto
 * itself (dockerd makes its data root a shared mount that way, and undoes it only on a clean shutdown).
 * A directory that is a mount of something else (a disk for the image cache) is not the engine's and
 * stays. Octal escapes (`\040` for a space) are decoded.
 */
export function mountPointsUnder(mountinfo: string, dirs: readonly string[]): string[] {
  const decode = (field: string) =>
    field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
  const points = new Set<string>();
  for (const line of mountinfo.split('\n')) {
    const fields = line.split(' ');
    if (fields[3] === undefined || fields[4] === undefined) continue;
    const root = decode(fields[3]);
    const point = decode(fields[4]);
    if (dirs.some((dir) => point.startsWith(`${dir}/`) || (point === dir && root === dir))) points.add(point);
  }
  return [...points].sort((a, b) => b.split('/').length - a.split('/').length || b.localeCompare(a));
}

function readMountinfo(): string {
  try {
    return readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return '';
  }
}
