import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { findBinary } from '../binaries.js';
import { ClusterError } from '../errors.js';
import { ManagedProcess, runCommand } from '../managed-process.js';
import { acceptsOn } from '../runtime/supervised-process.js';
import type { NetnsLab } from './lab.js';

/**
 * A lab host's own filesystem, as a real host has one: a mount namespace inside the host's network
 * namespace where the host's tree is laid over the machine's `/etc` and `/var` (overlays: the machine's
 * files below, the host's rendered files on top, its writes kept apart), `/run` is a fresh tmpfs, and
 * `hidden` paths (a database's datadir) start empty. So two lab hosts can each have `/etc/haproxy/haproxy.cfg`
 * and `/run/mysqld/mysqld.sock`, and the files a rendering names sit at the paths it names; nothing
 * reaches the machine's own `/etc` or `/var`.
 *
 * The namespace lives as long as a holder process (`sleep` under `unshare`); every command of the host
 * enters it with `nsenter`. The machine's `/tmp` (the lab's directory) and the code stay visible.
 */
export class HostRoot {
  private constructor(
    readonly lab: NetnsLab,
    readonly host: string,
    /** The host's tree: `etc/` and `var/` are the upper layers of its overlays. */
    readonly dir: string,
    private readonly holder: ManagedProcess,
  ) {}

  /**
   * Lays the host's tree (`dir/etc`, `dir/var`, written beforehand: an overlay's upper layer must not change
   * under it) over the machine's, and keeps the namespace. `hidden`: absolute paths under `/var` bound to
   * empty directories of the host's own.
   */
  static async enter(
    lab: NetnsLab,
    host: string,
    dir: string,
    hidden: readonly string[] = [],
  ): Promise<HostRoot> {
    for (const layer of ['etc', 'var', '.work/etc', '.work/var', 'hidden'])
      mkdirSync(join(dir, layer), { recursive: true });
    const marker = join(dir, '.mounted');
    // $1 the tree, $2.. the hidden paths. `set -e`: a mount that fails ends the holder, and the wait below says why.
    const script = [
      'set -e',
      'D="$1"; shift',
      'mount -t overlay overlay -o "lowerdir=/etc,upperdir=$D/etc,workdir=$D/.work/etc" /etc',
      'mount -t overlay overlay -o "lowerdir=/var,upperdir=$D/var,workdir=$D/.work/var" /var',
      'i=0',
      'for path in "$@"; do i=$((i+1)); mkdir -p "$D/hidden/$i" "$path"; mount --bind "$D/hidden/$i" "$path"; done',
      'mount -t tmpfs -o mode=0755 tmpfs /run',
      `touch "$D/.mounted"`,
      'exec sleep infinity',
    ].join('\n');
    const line = lab.commandOn(host, findBinary('unshare'), [
      '--mount',
      '--propagation',
      'private',
      '--',
      findBinary('sh'),
      '-c',
      script,
      'host-root',
      dir,
      ...hidden,
    ]);
    const holder = new ManagedProcess({
      name: `${host} root`,
      command: line.command,
      args: line.args,
      logFile: join(dir, 'holder.log'),
    });
    holder.start();
    const deadline = Date.now() + 10_000;
    while (!existsSync(marker)) {
      const died = holder.deathReason();
      if (died !== undefined) throw new ClusterError(`${host}'s filesystem: ${died}`, 'CLUSTER_NOT_READY');
      if (Date.now() > deadline) {
        await holder.kill();
        throw new ClusterError(`${host}'s filesystem was not ready in 10 s`, 'CLUSTER_NOT_READY');
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return new HostRoot(lab, host, dir, holder);
  }

  /**
   * The command line that runs `command` on this host, in its filesystem and network, from `cwd` (default
   * `/`). The directory is entered after the namespaces (`env --chdir`): nsenter's own `--wd` opens its
   * path in the caller's filesystem, the machine's, before it enters the host's.
   */
  commandOn(command: string, args: readonly string[], cwd = '/'): { command: string; args: string[] } {
    const pid = this.holder.pid;
    if (pid === undefined || !this.holder.running)
      throw new ClusterError(`${this.host}'s filesystem is gone`, 'CLUSTER_COMMAND_FAILED');
    return {
      command: findBinary('nsenter'),
      args: [
        `--target=${pid}`,
        '--mount',
        '--net',
        '--',
        findBinary('env'),
        `--chdir=${cwd}`,
        command,
        ...args,
      ],
    };
  }

  /** Runs a command on this host to its end; its output, or a rejection with the output. `input` is its stdin. */
  run(command: string, args: readonly string[], timeoutMs = 30_000, input?: string): Promise<string> {
    const line = this.commandOn(command, args);
    return runCommand(line.command, line.args, { timeoutMs, ...(input === undefined ? {} : { input }) });
  }

  /** A shell script run on this host (`sh -c`), with `args` as `$1`..; its output. */
  sh(script: string, args: readonly string[] = [], timeoutMs = 30_000): Promise<string> {
    return this.run(findBinary('sh'), ['-c', script, 'sh', ...args], timeoutMs);
  }

  /** Whether something on this host accepts TCP connections on `address:port` (asked from the host itself). */
  async accepts(address: string, port: number): Promise<boolean> {
    const [shell = 'bash', ...args] = acceptsOn(address, port);
    try {
      await this.run(findBinary(shell), args, 5_000);
      return true;
    } catch {
      return false;
    }
  }

  /** Ends the namespace's holder; the namespace goes once nothing else is in it (stop the services first). */
  async close(): Promise<void> {
    await this.holder.kill();
  }
}
