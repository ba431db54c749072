import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { findBinary } from '../binaries.js';
import { ClusterError } from '../errors.js';
import { ManagedProcess, runCommand } from '../managed-process.js';
import {
  type ExecLine,
  expandSpecifiers,
  parseEnvironmentFile,
  parseServiceUnit,
  type ServiceUnit,
} from '../render/unit-file.js';
import type { HostRoot } from './host-root.js';

/** systemd's default TimeoutStartSec=: the most one ExecStartPre= line may take. */
const START_STEP_TIMEOUT_MS = 90_000;

/**
 * DynamicUser= ids handed out, by user name: the same name always gets the same id, two names never share
 * one (a shared id would let one service read what another's 0600 files hold).
 */
const dynamicIds = new Map<string, number>();

function dynamicId(user: string): number {
  const known = dynamicIds.get(user);
  if (known !== undefined) return known;
  const taken = new Set(dynamicIds.values());
  // systemd's DynamicUser= range is 61184..65519: a stable start from the name, the next free one on a clash.
  let id = 61184 + (createHash('sha256').update(user).digest().readUInt16BE(0) % (65519 - 61184));
  while (taken.has(id)) id = id === 65519 ? 61184 : id + 1;
  dynamicIds.set(user, id);
  return id;
}

/**
 * One rendered service started on a lab host the way systemd would start it on a real one: its
 * directories (RuntimeDirectory=, StateDirectory=, LogsDirectory=) made and owned by its user, its
 * credentials (LoadCredential=) copied where `%d` says, its environment (Environment=, EnvironmentFile=),
 * its ExecStartPre= lines run to their end as its user, then ExecStart= as its user, from its
 * WorkingDirectory=; on stop, its KillSignal= and then ExecStopPost=.
 *
 * Not enforced here (a real host's systemd does): the sandbox options (ProtectSystem=, PrivateTmp=,
 * NoNewPrivileges=, CapabilityBoundingSet=), Restart= and readiness notification; DynamicUser= runs as a fixed
 * uid of systemd's dynamic range, derived from the user's name.
 */
export class UnitProcess {
  readonly unit: ServiceUnit;
  private process: ManagedProcess | undefined;
  /** An ExecStartPre= line running now. */
  private step: ManagedProcess | undefined;
  /** Settles once the current run has ended and its ExecStopPost= ran. */
  private ended: Promise<void> = Promise.resolve();
  private readonly exitListeners: (() => void)[] = [];
  private identityOnce: Promise<{ uid: string; gid: string }> | undefined;

  constructor(
    private readonly root: HostRoot,
    /** `haproxy.service`: the file under /etc/systemd/system of the host's tree. */
    readonly name: string,
    text: string,
  ) {
    this.unit = parseServiceUnit(name, text);
  }

  get pid(): number | undefined {
    return this.process?.pid;
  }

  get running(): boolean {
    return this.process?.running ?? false;
  }

  /** Why it is not running (its exit and log tail); undefined while it runs. */
  deathReason(): string | undefined {
    return this.process?.deathReason();
  }

  /** The last lines of its output (stdout and stderr, as the journal would hold them). */
  logTail(lines = 20): string {
    return this.process?.logTail(lines) ?? '(not started)';
  }

  /** Makes its directories and credentials: what systemd does before any Exec line (also before a bootstrap). */
  async prepare(): Promise<void> {
    const { uid, gid } = await this.identity();
    const { unit } = this;
    // RuntimeDirectoryMode= is the runtime directories' alone; the others keep systemd's default, 0755.
    const runtimeMode = (unit.runtimeDirectoryMode ?? 0o755).toString(8);
    const dirs = [
      ...unit.runtimeDirectories.map((name) => ({ dir: `/run/${name}`, mode: runtimeMode })),
      ...unit.stateDirectories.map((name) => ({ dir: `/var/lib/${name}`, mode: '755' })),
      ...unit.logsDirectories.map((name) => ({ dir: `/var/log/${name}`, mode: '755' })),
    ];
    for (const { dir, mode } of dirs)
      await this.root.run(findBinary('install'), ['-d', '-m', mode, '-o', uid, '-g', gid, dir]);
    if (unit.credentials.length > 0) {
      const dir = this.credentialsDirectory();
      await this.root.run(findBinary('install'), ['-d', '-m', '0500', '-o', uid, '-g', gid, dir]);
      for (const { id, path } of unit.credentials) {
        await this.root.run(findBinary('install'), [
          '-m',
          '0400',
          '-o',
          uid,
          '-g',
          gid,
          path,
          `${dir}/${id}`,
        ]);
      }
    }
  }

  /**
   * Prepares, runs ExecStartPre= lines (each bounded, as TimeoutStartSec= bounds them), starts ExecStart=.
   * Rejects with the output of a line that failed.
   */
  async start(): Promise<void> {
    if (this.running) throw new ClusterError(`${this.label} is already running`, 'CLUSTER_COMMAND_FAILED');
    await this.prepare();
    const env = await this.environment();
    for (const line of this.unit.execStartPre) {
      const command = await this.asUser(line);
      const step = new ManagedProcess({ ...command, name: `${this.label} ExecStartPre`, env });
      this.step = step;
      step.start();
      const timer = setTimeout(() => step.signalGroup('SIGKILL'), START_STEP_TIMEOUT_MS);
      const status = await step.exited();
      clearTimeout(timer);
      this.step = undefined;
      if (status.code !== 0 && !line.ignoreFailure) {
        throw new ClusterError(
          `${this.label}: ExecStartPre=${line.argv.join(' ')} failed (${status.signal ?? `exit ${status.code}`}):\n${step.logTail()}`,
          'CLUSTER_PROCESS_FAILED',
        );
      }
    }
    const process = new ManagedProcess({
      ...(await this.asUser(this.unit.execStart)),
      name: this.label,
      env,
    });
    this.process = process;
    process.start();
    // However it ends (stopped, killed, crashed), systemd then runs ExecStopPost= and stops what binds to it.
    this.ended = process.exited().then(async () => {
      await this.stopPost().catch(() => {});
      for (const listener of this.exitListeners) listener();
    });
  }

  /** Calls `listener` each time the service ends (after its ExecStopPost=): what BindsTo= needs. */
  onExit(listener: () => void): void {
    this.exitListeners.push(listener);
  }

  /**
   * `systemctl stop`: KillSignal= (SIGTERM) to the service's processes (a paused one continued so it can
   * act on it), SIGKILL after `graceMs`, then ExecStopPost=. A step of ExecStartPre= still running is killed.
   */
  async stop(graceMs = 10_000): Promise<void> {
    this.step?.signalGroup('SIGKILL');
    const process = this.process;
    if (process?.running) {
      const signal = (this.unit.killSignal ?? 'SIGTERM') as NodeJS.Signals;
      process.signalGroup(signal);
      if (process.isPaused) process.resume();
      const timer = setTimeout(() => process.signalGroup('SIGKILL'), graceMs);
      await process.exited();
      clearTimeout(timer);
    }
    await this.ended;
  }

  /** SIGKILL, like a crash (ExecStopPost= still runs, as systemd runs it after any end). */
  async kill(): Promise<void> {
    await this.process?.kill();
    await this.ended;
  }

  pause(): void {
    this.process?.pause();
  }

  resume(): void {
    this.process?.resume();
  }

  private get label(): string {
    return `${this.root.host} ${this.name}`;
  }

  private async stopPost(): Promise<void> {
    for (const line of this.unit.execStopPost) {
      const command = await this.asUser(line);
      try {
        await runCommand(command.command, command.args, { timeoutMs: 30_000, env: await this.environment() });
      } catch (error) {
        if (!line.ignoreFailure) throw error;
      }
    }
  }

  private credentialsDirectory(): string {
    return `/run/credentials/${this.name}`;
  }

  /**
   * The service's uid and gid (numbers, as text): root's without User=. Looked up once (every Exec line
   * and the directories need it, and the host's accounts do not change under a running lab).
   */
  private identity(): Promise<{ uid: string; gid: string }> {
    this.identityOnce ??= this.lookUpIdentity();
    return this.identityOnce;
  }

  private async lookUpIdentity(): Promise<{ uid: string; gid: string }> {
    const { user, group, dynamicUser } = this.unit;
    if (user === undefined) return { uid: '0', gid: '0' };
    const known = await this.root.run(findBinary('getent'), ['passwd', user]).catch(() => '');
    const fields = known.trim().split(':');
    if (fields.length >= 4) {
      const gid =
        group === undefined
          ? (fields[3] ?? '0')
          : ((await this.root.run(findBinary('getent'), ['group', group])).split(':')[2] ?? '0');
      return { uid: fields[2] ?? '0', gid };
    }
    if (!dynamicUser) {
      throw new ClusterError(
        `${this.label}: User=${user} does not exist on the host`,
        'CLUSTER_INVALID_OPTION',
      );
    }
    const id = String(dynamicId(user));
    return { uid: id, gid: id };
  }

  /** The unit's environment: a service's own, never the harness's. */
  private async environment(): Promise<NodeJS.ProcessEnv> {
    const env: Record<string, string> = {
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      LANG: 'C.UTF-8',
    };
    Object.assign(env, this.unit.environment);
    for (const { path, optional } of this.unit.environmentFiles) {
      const text = await this.root.run(findBinary('cat'), [path]).catch((error: Error) => {
        if (optional) return '';
        throw new ClusterError(
          `${this.label}: EnvironmentFile=${path}: ${error.message}`,
          'CLUSTER_INVALID_OPTION',
        );
      });
      Object.assign(env, parseEnvironmentFile(text));
    }
    if (this.unit.credentials.length > 0) env.CREDENTIALS_DIRECTORY = this.credentialsDirectory();
    return env;
  }

  /** `line` on the host, as the service's user, from its working directory. */
  private async asUser(line: ExecLine): Promise<{ command: string; args: string[]; logFile: string }> {
    const { uid, gid } = await this.identity();
    const argv = line.argv.map((word) =>
      expandSpecifiers(word, { credentialsDirectory: this.credentialsDirectory(), runtimeRoot: '/run' }),
    );
    const [program = '', ...args] = argv;
    // A credentials change clears the parent-death signal: set it again after, so the kernel still ends the
    // service if the harness dies. Ambient capabilities survive the change of user, as systemd grants them.
    const caps = this.unit.ambientCapabilities
      .map((cap) => `+${cap.replace(/^CAP_/, '').toLowerCase()}`)
      .join(',');
    const capabilities = caps === '' ? [] : [`--inh-caps=${caps}`, `--ambient-caps=${caps}`];
    const wrapped =
      uid === '0'
        ? [findBinary('setpriv'), '--pdeathsig', 'SIGKILL', '--', program, ...args]
        : [
            findBinary('setpriv'),
            `--reuid=${uid}`,
            `--regid=${gid}`,
            // A real user keeps its supplementary groups, as systemd gives them; a dynamic one has none.
            this.unit.dynamicUser ? '--clear-groups' : '--init-groups',
            ...capabilities,
            '--pdeathsig',
            'SIGKILL',
            '--',
            program,
            ...args,
          ];
    const [command = '', ...rest] = wrapped;
    const entered = this.root.commandOn(command, rest, this.unit.workingDirectory ?? '/');
    return { ...entered, logFile: join(this.root.dir, `${this.name}.log`) };
  }
}
