import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { mountPointsUnder } from '../src/docker/engine-leftovers.js';
import { socketPathOf } from '../src/docker/engine-ping.js';
import { addUser, liveUsers, removeUser } from '../src/docker/engine-users.js';
import { parseProcStat, processRuns, readProcStat } from '../src/docker/host-processes.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function usersDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'rwsplit-users-'));
  dirs.push(dir);
  return dir;
}

describe('the users directory', () => {
  it('records this process by PID with its start time, and forgets it on removal', () => {
    const dir = usersDir();
    addUser(dir);
    expect(readdirSync(dir)).toEqual([String(process.pid)]);
    expect(Number(readFileSync(join(dir, String(process.pid)), 'utf8'))).toBe(
      readProcStat(process.pid)?.startTime,
    );
    expect(liveUsers(dir)).toEqual([process.pid]);
    removeUser(dir);
    expect(liveUsers(dir)).toEqual([]);
  });

  it('drops users whose process died, or whose PID now belongs to a newer process', () => {
    const dir = usersDir();
    writeFileSync(join(dir, '101'), '5000'); // alive, same process
    writeFileSync(join(dir, '102'), '6000'); // dead
    writeFileSync(join(dir, '103'), '7000'); // PID reused: the process there started at 9999
    const running = new Map([
      [101, 5000],
      [103, 9999],
    ]);
    const users = liveUsers(dir, (pid, startTime) => running.get(pid) === startTime);
    expect(users).toEqual([101]);
    expect(readdirSync(dir)).toEqual(['101']);
  });

  it('drops entries that are not users at all (junk names, empty or garbled files)', () => {
    const dir = usersDir();
    writeFileSync(join(dir, 'notes.txt'), '1');
    writeFileSync(join(dir, '104'), '');
    writeFileSync(join(dir, '105'), 'soon');
    mkdirSync(join(dir, '106'));
    expect(liveUsers(dir, () => true)).toEqual([]);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('reads a missing directory as no users', () => {
    expect(liveUsers(join(usersDir(), 'absent'))).toEqual([]);
  });

  it('sees a live process as running, but not under another start time', () => {
    const self = readProcStat(process.pid);
    expect(self?.pid).toBe(process.pid);
    expect(processRuns(process.pid, self?.startTime)).toBe(true);
    expect(processRuns(process.pid, (self?.startTime ?? 0) + 1)).toBe(false);
  });
});

describe('parseProcStat', () => {
  it('finds the fields after a command name holding spaces and parentheses', () => {
    const line =
      '4242 (my (odd) prog) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000000 200';
    expect(parseProcStat(line)).toEqual({
      pid: 4242,
      comm: 'my (odd) prog',
      state: 'S',
      ppid: 1,
      startTime: 987654,
    });
  });

  it('reads a zombie as state Z and rejects what is not a stat line', () => {
    expect(parseProcStat('77 (dockerd) Z 1 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 555 0 0')?.state).toBe('Z');
    expect(parseProcStat('')).toBeUndefined();
    expect(parseProcStat('12 (short) S 1')).toBeUndefined();
  });
});

describe('mountPointsUnder', () => {
  const MOUNTINFO = [
    '27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw',
    '45 27 254:0 /var/lib/rwsplit-docker /var/lib/rwsplit-docker rw,relatime shared:2 - ext4 /dev/vda rw',
    '50 45 0:40 / /var/lib/rwsplit-docker/overlay2/abc/merged rw,relatime - overlay overlay rw',
    '51 27 0:4 net:[4026531833] /run/rwsplit-docker/exec/netns/default rw - nsfs nsfs rw',
    '52 27 0:41 / /run/rwsplit-docker/exec/with\\040space rw - tmpfs tmpfs rw',
    '53 27 0:42 / /var/lib/rwsplit-docker-other rw - tmpfs tmpfs rw',
  ].join('\n');

  it("lists what the engine mounted below its directories and its data root's bind onto itself, deepest first", () => {
    expect(mountPointsUnder(MOUNTINFO, ['/run/rwsplit-docker', '/var/lib/rwsplit-docker'])).toEqual([
      '/var/lib/rwsplit-docker/overlay2/abc/merged',
      '/run/rwsplit-docker/exec/netns/default',
      '/run/rwsplit-docker/exec/with space',
      '/var/lib/rwsplit-docker',
    ]);
  });

  it('leaves a data root that is a disk of its own mounted', () => {
    const disk = '60 27 8:17 / /var/lib/rwsplit-docker rw - ext4 /dev/sdb1 rw';
    expect(mountPointsUnder(disk, ['/var/lib/rwsplit-docker'])).toEqual([]);
  });
});

describe('socketPathOf', () => {
  it('takes the path of a unix DOCKER_HOST and nothing else', () => {
    expect(socketPathOf('unix:///run/rwsplit-docker/docker.sock')).toBe('/run/rwsplit-docker/docker.sock');
    expect(socketPathOf('tcp://127.0.0.1:2375')).toBeUndefined();
    expect(socketPathOf('unix://relative.sock')).toBeUndefined();
  });
});
