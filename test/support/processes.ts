import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/**
 * PIDs of processes that belong to a cluster's state directory: its path is in their command line, or
 * they hold a file in it open (an Nginx worker's command line does not name the directory; its logs do).
 */
export function processesUsing(stateDir: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmdline.includes(stateDir) || holdsFileIn(pid, stateDir)) found.push(pid);
    } catch {
      // exited while we looked
    }
  }
  return found;
}

function holdsFileIn(pid: number, dir: string): boolean {
  try {
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith(dir);
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}
