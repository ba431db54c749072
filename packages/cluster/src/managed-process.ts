import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { findBinary } from './binaries.js';
import { ClusterError } from './errors.js';

export interface ProcessSpec {
  /** Name used in logs and errors: `db-primary`, `server-1 nginx`, `lb`. */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** stdout and stderr are appended here. */
  readonly logFile: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

// Every process any cluster in this Node process started and that has not exited yet.
const live = new Set<ManagedProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort when the owner never called stop() (a crash, process.exit in a test runner): 'exit'
  // handlers must be synchronous, so this can only signal, not wait.
  process.on('exit', () => {
    for (const child of live) child.signalGroup('SIGKILL');
  });
}

/** Processes started by this Node process that are still running (for leak checks and emergency cleanup). */
export function liveProcesses(): readonly ManagedProcess[] {
  return [...live];
}

/**
 * One long-running child the harness owns, tracked by PID.
 *
 * Each child leads its own process group, so a signal reaches the workers it forks too (nginx workers),
 * and runs under `setpriv --pdeathsig SIGKILL`, so the kernel ends it if the Node process that started
 * it dies without cleaning up (a SIGKILLed test runner). Pausing uses SIGSTOP/SIGCONT on the group.
 */
export class ManagedProcess {
  readonly name: string;
  private readonly spec: ProcessSpec;
  private child: ChildProcess | undefined;
  private exitPromise: Promise<ExitStatus> = Promise.resolve({ code: null, signal: null });
  private lastExit: ExitStatus | undefined;
  private paused = false;

  constructor(spec: ProcessSpec) {
    this.name = spec.name;
    this.spec = spec;
  }

  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  get running(): boolean {
    return this.child !== undefined && this.lastExit === undefined;
  }

  get isPaused(): boolean {
    return this.running && this.paused;
  }

  /** How the last run ended, or undefined while running / before the first start. */
  get exitStatus(): ExitStatus | undefined {
    return this.lastExit;
  }

  start(): void {
    if (this.running) throw new ClusterError(`${this.name} is already running`, 'CLUSTER_COMMAND_FAILED');
    installExitHook();
    const log = openSync(this.spec.logFile, 'a');
    try {
      const child = spawn(
        findBinary('setpriv'),
        ['--pdeathsig', 'SIGKILL', '--', this.spec.command, ...this.spec.args],
        {
          stdio: ['ignore', log, log],
          detached: true,
          env: this.spec.env ?? process.env,
          cwd: this.spec.cwd,
        },
      );
      this.child = child;
      this.lastExit = undefined;
      this.paused = false;
      live.add(this);
      this.exitPromise = new Promise((resolve) => {
        child.once('exit', (code, signal) => {
          this.lastExit = { code, signal };
          live.delete(this);
          resolve(this.lastExit);
        });
        child.once('error', () => {
          this.lastExit = { code: null, signal: null };
          live.delete(this);
          resolve(this.lastExit);
        });
      });
      // The harness must not keep the event loop alive only because a child runs (e.g. the CLI's Ctrl-C).
      child.unref();
    } finally {
      closeSync(log);
    }
  }

  /** Resolves when the current run ends (at once if not running). */
  exited(): Promise<ExitStatus> {
    return this.exitPromise;
  }

  /** Sends a signal to the whole process group; false when the group is already gone. */
  signalGroup(signal: NodeJS.Signals): boolean {
    const pid = this.child?.pid;
    if (pid === undefined || !this.running) return false;
    try {
      process.kill(-pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  /** SIGKILL, like a crash or a power cut; resolves once the process is reaped. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.signalGroup('SIGKILL');
    await this.exitPromise;
  }

  /** Graceful stop: SIGTERM (after SIGCONT if paused), then SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.signalGroup('SIGTERM');
    if (this.paused) this.resume();
    const timer = setTimeout(() => this.signalGroup('SIGKILL'), graceMs);
    try {
      await this.exitPromise;
    } finally {
      clearTimeout(timer);
    }
  }

  pause(): void {
    if (this.signalGroup('SIGSTOP')) this.paused = true;
  }

  resume(): void {
    if (this.signalGroup('SIGCONT')) this.paused = false;
  }

  /** The last lines of the log, for error messages. */
  logTail(lines = 20): string {
    return tailFile(this.spec.logFile, lines);
  }

  /** Why the process is not running, for a waiter's abort check; undefined while it runs. */
  deathReason(): string | undefined {
    if (this.running) return undefined;
    const status = this.lastExit;
    const how = status?.signal ? `signal ${status.signal}` : `exit code ${status?.code ?? '?'}`;
    return `${this.name} exited (${how}); last lines of ${this.spec.logFile}:\n${this.logTail()}`;
  }
}

/** The last lines of a log file, for error messages. */
export function tailFile(path: string, lines = 20): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Runs a short command to completion; rejects with its output when it fails. `input` goes to its stdin
 * (for what must not be on a command line any local user can read, such as SQL with passwords).
 */
export async function runCommand(
  command: string,
  args: readonly string[],
  options: { readonly timeoutMs?: number; readonly env?: NodeJS.ProcessEnv; readonly input?: string } = {},
): Promise<string> {
  const child = spawn(command, args, {
    stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    env: options.env ?? process.env,
  });
  if (options.input !== undefined) {
    child.stdin?.on('error', () => {}); // a command that exits without reading: its exit status says why
    child.stdin?.end(options.input);
  }
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  try {
    const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
    if (code !== 0) {
      const tail = output.trimEnd().split('\n').slice(-20).join('\n');
      throw new ClusterError(
        `${command} ${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${tail}`,
        'CLUSTER_COMMAND_FAILED',
      );
    }
    return output;
  } finally {
    clearTimeout(timer);
  }
}
