import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { processRuns, readProcStat } from './host-processes.js';

/** Whether the process recorded as (pid, start time) still runs; a seam so tests need no real PIDs. */
export type RunsCheck = (pid: number, startTime: number) => boolean;

/**
 * The users directory of the private engine: one file per process that holds it, named by its PID and
 * holding its start time (so a PID reused by an unrelated process does not keep the engine up). Callers
 * hold the engine lock around every call: the directory is only read and written under it.
 */
export function addUser(dir: string, pid = process.pid): void {
  const stat = readProcStat(pid);
  if (stat === undefined) throw new Error(`process ${pid} does not exist`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, String(pid)), String(stat.startTime));
}

export function removeUser(dir: string, pid = process.pid): void {
  rmSync(join(dir, String(pid)), { force: true });
}

/**
 * The PIDs of the processes that still use the engine, in ascending order. Entries of processes that
 * died without releasing it (a SIGKILLed test worker) and files that are not entries are removed.
 */
export function liveUsers(dir: string, runs: RunsCheck = processRuns): number[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const live: number[] = [];
  for (const name of names) {
    const pid = Number(name);
    const startTime = readStartTime(join(dir, name));
    if (Number.isInteger(pid) && pid > 0 && startTime !== undefined && runs(pid, startTime)) live.push(pid);
    else rmSync(join(dir, name), { recursive: true, force: true });
  }
  return live.sort((a, b) => a - b);
}

function readStartTime(path: string): number | undefined {
  try {
    const text = readFileSync(path, 'utf8').trim();
    const value = Number(text);
    return text !== '' && Number.isInteger(value) && value >= 0 ? value : undefined;
  } catch {
    return undefined;
  }
}
