import { chownSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { ClusterError } from './errors.js';

/** An operating-system account a service process runs as. */
export interface ServiceUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

/**
 * Who runs the database servers. A harness started as root hands them to an unprivileged account (the
 * distribution's `mysql`, else `nobody`): a server running as root can read and write every file of the
 * machine through SQL. Any other user runs them as itself (undefined: nothing to hand over).
 */
export function databaseServiceUser(): ServiceUser | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const user = systemUser('mysql') ?? systemUser('nobody');
  if (user !== undefined) return user;
  throw new Error('running as root, but the machine has neither a `mysql` nor a `nobody` account');
}

/** The machine's account `name` (its /etc/passwd entry: uid and primary gid), or undefined. */
export function systemUser(name: string): ServiceUser | undefined {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith(`${name}:`));
  const [, , uid, gid] = line?.split(':') ?? [];
  return uid === undefined || gid === undefined ? undefined : { name, uid: Number(uid), gid: Number(gid) };
}

/** The harness's own login name: the database account it reaches every node with over the socket. */
export function harnessUserName(): string {
  try {
    return userInfo().username;
  } catch (error) {
    // A uid with no passwd entry (`docker run -u 1234`): unix_socket authentication needs a login name.
    throw new ClusterError(
      `the harness runs as uid ${process.getuid?.()}, which has no login name (no /etc/passwd entry); the database nodes authenticate the harness by its login: run it as a named user`,
      'CLUSTER_INVALID_OPTION',
      { cause: error },
    );
  }
}

/** Gives `path` and everything below it to `user` (no-op without one). */
export function handOver(path: string, user: ServiceUser | undefined): void {
  if (user === undefined) return;
  chownSync(path, user.uid, user.gid);
  let entries: string[];
  try {
    entries = readdirSync(path);
  } catch {
    return; // a file
  }
  for (const entry of entries) handOver(join(path, entry), user);
}

/**
 * The first directory on the way to `path` that `user` may not pass through, or undefined when it can
 * reach `path` (always, without a user to hand over to).
 */
export function blockedOnTheWay(path: string, user: ServiceUser | undefined): string | undefined {
  if (user === undefined) return undefined;
  for (let dir = path; ; dir = dirname(dir)) {
    const { mode, uid, gid } = statSync(dir);
    const passable = uid === user.uid ? mode & 0o100 : gid === user.gid ? mode & 0o010 : mode & 0o001;
    if (!passable) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}
