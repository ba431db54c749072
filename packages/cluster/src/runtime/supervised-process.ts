import type { ExitStatus, ProcessSpec } from '../managed-process.js';

/**
 * One long-running program of the topology as the harness drives it, whatever runs it: a child process
 * (`ManagedProcess`, the native runtime) or a container (`ContainerProcess`, the docker runtime). The
 * components (database nodes, HAProxy, Nginx, the app, the managers, monitoring) hold one of these and
 * never know which.
 *
 * `start()` only sets the program going: whether it serves is the component's own probe to find out,
 * with `deathReason()` ending that wait early when the program is gone. Faults map one to one: `kill()`
 * is SIGKILL, `pause()` freezes every process of it (SIGSTOP of the group, or the container's freezer).
 */
export interface SupervisedProcess {
  readonly name: string;
  /** Its main process's PID on this machine (for /proc readings), while it runs. */
  readonly pid: number | undefined;
  readonly running: boolean;
  readonly isPaused: boolean;
  /** How the last run ended, or undefined while running / before the first start. */
  readonly exitStatus: ExitStatus | undefined;
  start(): void;
  /** Resolves when the current run ends (at once if not running). */
  exited(): Promise<ExitStatus>;
  /** SIGKILL, like a crash or a power cut; resolves once it is gone. */
  kill(): Promise<void>;
  /** Graceful stop: SIGTERM (resumed first if paused), then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** Resolves once it is frozen (at once natively: SIGSTOP is synchronous). */
  pause(): void | Promise<void>;
  resume(): void | Promise<void>;
  /** The last lines of its output, for error messages. */
  logTail(lines?: number): string;
  /** Why it is not running, for a waiter's abort check; undefined while it runs. */
  deathReason(): string | undefined;
}

/**
 * What the harness needs to run a program beyond its command line, for runtimes that isolate it: a
 * command that succeeds once it serves (the docker runtime waits on it with testcontainers'
 * `Wait.forSuccessfulCommand`; natively the component's probe is the only wait).
 */
export interface RuntimeProcessSpec extends ProcessSpec {
  readonly readiness?: readonly string[];
}

/**
 * A readiness command for a program that serves on `host:port`: it succeeds once a TCP connection is
 * accepted there (bash's /dev/tcp: the images carry bash, not curl).
 */
export function acceptsOn(host: string, port: number): readonly string[] {
  return ['bash', '-c', `exec 3<>/dev/tcp/${host}/${port}`];
}

/** How the programs of one cluster run: `native` child processes, or `docker` containers. */
export interface ProcessRuntime {
  readonly kind: 'native' | 'docker';
  process(spec: RuntimeProcessSpec): SupervisedProcess;
  /** Ends what the runtime itself holds (containers left over, the engine); the programs are stopped first. */
  close(): Promise<void>;
}
