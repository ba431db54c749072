import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** The fields of `/proc/<pid>/stat` the engine bookkeeping needs. */
export interface ProcStat {
  readonly pid: number;
  /** The kernel's name for it, truncated to 15 bytes (`containerd-shim` for every shim). */
  readonly comm: string;
  /** `R`, `S`, `D`, `Z` (zombie: exited, not yet reaped) ... */
  readonly state: string;
  readonly ppid: number;
  /** Clock ticks after boot: with the PID, names one process for good (PIDs are reused, this pair is not). */
  readonly startTime: number;
}

/**
 * Parses one `/proc/<pid>/stat` line; undefined for anything else (never throws). `comm` may hold spaces
 * and parentheses, so the fields after it are found from the last `)`.
 */
export function parseProcStat(text: string): ProcStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 1 || close < open) return undefined;
  const pid = Number(text.slice(0, open).trim());
  // Fields 3.. of proc(5): state is field 3, ppid 4, starttime 22.
  const rest = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const state = rest[0];
  const ppid = Number(rest[1]);
  const startTime = Number(rest[19]);
  if (
    !Number.isInteger(pid) ||
    state === undefined ||
    !Number.isInteger(ppid) ||
    !Number.isInteger(startTime)
  )
    return undefined;
  return { pid, comm: text.slice(open + 1, close), state, ppid, startTime };
}

export function readProcStat(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Whether `pid` is a running process (a zombie is not: it has exited) and, given `startTime`, still the
 * process that was recorded with it rather than a newcomer that got the PID after it died.
 */
export function processRuns(pid: number, startTime?: number): boolean {
  const stat = readProcStat(pid);
  if (stat === undefined || stat.state === 'Z' || stat.state === 'X') return false;
  return startTime === undefined || stat.startTime === startTime;
}

/** Its argv, or undefined when it is gone (a kernel thread has an empty one). */
export function processArgs(pid: number): string[] | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return raw.split('\0').filter((arg) => arg.length > 0);
  } catch {
    return undefined;
  }
}

/** The cgroup paths it belongs to (one per v1 hierarchy, one for v2). */
export function processCgroups(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cgroup`, 'utf8')
      .split('\n')
      .map((line) => line.split(':').slice(2).join(':'))
      .filter((path) => path.length > 0);
  } catch {
    return [];
  }
}

/** Every PID in /proc but this process's own. */
export function allPids(): number[] {
  return readdirSync('/proc')
    .map(Number)
    .filter((pid) => Number.isInteger(pid) && pid > 0 && pid !== process.pid);
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // gone already
  }
}

async function gone(pid: number, startTime: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (processRuns(pid, startTime)) {
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
  return true;
}

/**
 * Ends one process that is not necessarily our child (so no exit event to wait on): SIGTERM, then
 * SIGKILL once `graceMs` has passed. Identified by PID and start time, so a PID reused meanwhile is
 * never signalled. Resolves once it is gone; false if even SIGKILL did not end it within 5 s.
 */
export async function terminateProcess(pid: number, startTime: number, graceMs: number): Promise<boolean> {
  if (!processRuns(pid, startTime)) return true;
  signal(pid, 'SIGTERM');
  if (await gone(pid, startTime, graceMs)) return true;
  if (processRuns(pid, startTime)) signal(pid, 'SIGKILL');
  return gone(pid, startTime, 5_000);
}
