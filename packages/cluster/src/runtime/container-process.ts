import { createWriteStream, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import type { GenericContainer } from 'testcontainers';
import { ClusterError } from '../errors.js';
import { type ExitStatus, tailFile } from '../managed-process.js';
import type { DockerApi } from './docker-api.js';
import type { RuntimeProcessSpec, SupervisedProcess } from './supervised-process.js';

/** A host path bound into the container at the same path, so the program's command line holds as it is. */
export interface SamePathMount {
  readonly path: string;
  readonly mode: 'ro' | 'rw';
}

/** What a container needs besides the program's spec; the docker runtime fills it in. */
export interface ContainerSetting {
  readonly image: string;
  readonly mounts: readonly SamePathMount[];
  /** Labels that say whose it is: the reaper's key for leftovers of a run that died. */
  readonly labels: Readonly<Record<string, string>>;
  /** Container name without the run counter; unique within the engine. */
  readonly name: string;
  readonly startTimeoutMs: number;
  readonly api: DockerApi;
  /** testcontainers' class (loaded by the runtime once the engine is known). */
  readonly containers: typeof GenericContainer;
  /** Told each container id as it starts and as it goes, so the runtime can remove what is left. */
  readonly track: (id: string, live: boolean) => void;
}

/**
 * A program of the topology run as a container on the host network: the same command line, binaries from
 * the image, the cluster's state directory bound in at its own path. Each start is a fresh container
 * (removed once it has exited), so a restart after `kill()` is what it is natively: a new process over the
 * same data directory.
 */
export class ContainerProcess implements SupervisedProcess {
  readonly name: string;
  private runs = 0;
  private id: string | undefined;
  private mainPid: number | undefined;
  private live = false;
  private paused = false;
  private lastExit: ExitStatus | undefined;
  private failure: string | undefined;
  private exitPromise: Promise<ExitStatus> = Promise.resolve({ code: null, signal: null });
  /** Engine calls in order: a pause sent before the container is up waits for it. */
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly spec: RuntimeProcessSpec,
    private readonly setting: ContainerSetting,
  ) {
    this.name = spec.name;
  }

  get pid(): number | undefined {
    return this.running ? this.mainPid : undefined;
  }

  get running(): boolean {
    return this.live;
  }

  get isPaused(): boolean {
    return this.live && this.paused;
  }

  get exitStatus(): ExitStatus | undefined {
    return this.lastExit;
  }

  start(): void {
    if (this.live) throw new ClusterError(`${this.name} is already running`, 'CLUSTER_COMMAND_FAILED');
    this.live = true;
    this.paused = false;
    this.lastExit = undefined;
    this.failure = undefined;
    this.mainPid = undefined;
    this.runs += 1;
    let ended!: (status: ExitStatus) => void;
    this.exitPromise = new Promise((resolve) => {
      ended = resolve;
    });
    const launched = this.launch(this.runs).then(
      (id) => {
        void this.watch(id).then(ended);
      },
      async (error: unknown) => {
        this.failure = error instanceof Error ? error.message : String(error);
        // Created but never ready (or killed while starting): removed here, as the exit watcher would.
        const id = this.id;
        if (id !== undefined) {
          await this.setting.api.call('DELETE', `/containers/${id}?force=true&v=true`).catch(() => {});
          this.setting.track(id, false);
        }
        this.gone({ code: null, signal: null });
        ended(this.lastExit ?? { code: null, signal: null });
      },
    );
    this.queue = launched;
  }

  exited(): Promise<ExitStatus> {
    return this.exitPromise;
  }

  /**
   * SIGKILL at once, even while it is still starting (it exists from its creation on) or frozen: a frozen
   * container is killed without being thawed first, as a SIGSTOPped process is, so it runs not one more
   * instruction (an engine that refuses, 409, gets the thaw first).
   */
  async kill(): Promise<void> {
    if (!this.live) return;
    if (this.id === undefined) await this.queue;
    if (!this.live || this.id === undefined) return;
    const killed = await this.engine('POST', 'kill?signal=SIGKILL');
    if (killed === 'refused' && this.paused) {
      await this.engine('POST', 'unpause');
      await this.engine('POST', 'kill?signal=SIGKILL');
    }
    this.paused = false;
    await this.exitPromise;
  }

  async stop(graceMs = 10_000): Promise<void> {
    await this.queue;
    if (!this.live || this.id === undefined) return;
    if (this.paused) await this.engine('POST', 'unpause');
    this.paused = false;
    // The engine sends SIGTERM, then SIGKILL after t seconds.
    await this.engine('POST', `stop?t=${Math.max(1, Math.ceil(graceMs / 1000))}`, graceMs + 30_000);
    await this.exitPromise;
  }

  /**
   * Freezes the container (the cgroup freezer: every process in it, like SIGSTOP of a group). Rejects,
   * and counts as not paused, when the engine could not freeze it: a fault that did not happen must not
   * pass for one.
   */
  pause(): Promise<void> {
    if (!this.live || this.paused) return this.queue;
    this.paused = true;
    return this.enqueue(async () => {
      const result = await this.engine('POST', 'pause').catch(rollBack(() => (this.paused = false)));
      if (result === 'refused') this.paused = false;
    });
  }

  resume(): Promise<void> {
    if (!this.live || !this.paused) return this.queue;
    this.paused = false;
    return this.enqueue(async () => {
      await this.engine('POST', 'unpause').catch(rollBack(() => (this.paused = true)));
    });
  }

  logTail(lines = 20): string {
    return tailFile(this.spec.logFile, lines);
  }

  deathReason(): string | undefined {
    if (this.live) return undefined;
    if (this.failure !== undefined) {
      return `${this.name}: its container did not start: ${this.failure}; last lines of ${this.spec.logFile}:\n${this.logTail()}`;
    }
    const status = this.lastExit;
    const how = status?.signal ? `signal ${status.signal}` : `exit code ${status?.code ?? '?'}`;
    return `${this.name} exited (${how}); last lines of ${this.spec.logFile}:\n${this.logTail()}`;
  }

  private async launch(run: number): Promise<string> {
    const { spec, setting } = this;
    const [command, ...args] = [spec.command, ...spec.args];
    const log = createWriteStream(spec.logFile, { flags: 'a' });
    const environment = containerEnvironment(spec.env);
    // testcontainers calls containerCreated before it starts the container and waits for it: from then
    // on the runtime knows it (to kill it, to remove it at exit) even if it never becomes ready.
    const created = (id: string) => {
      this.id = id;
      setting.track(id, true);
    };
    class Tracked extends setting.containers {
      constructor(image: string) {
        super(image);
        // The engine's init (tini) as PID 1, the program its child: a program that never installed a
        // SIGTERM handler still ends on SIGTERM (PID 1 ignores signals it has no handler for), as it
        // would natively, and what it forks is reaped.
        this.hostConfig.Init = true;
      }

      protected override async containerCreated(id: string): Promise<void> {
        created(id);
      }
    }
    let container = new Tracked(setting.image)
      .withName(`${setting.name}-${run}`)
      .withNetworkMode('host')
      .withCommand([command ?? '', ...args])
      .withEnvironment(environment)
      .withLabels({ ...setting.labels })
      .withUser(`${process.getuid?.() ?? 0}:${process.getgid?.() ?? 0}`)
      .withBindMounts(setting.mounts.map((m) => ({ source: m.path, target: m.path, mode: m.mode })))
      .withStartupTimeout(setting.startTimeoutMs)
      .withLogConsumer((stream) => {
        stream.on('data', (chunk: Buffer | string) => log.write(chunk));
        stream.on('end', () => log.end());
        stream.on('error', () => log.end());
      });
    // A relative path in the command line means what it means natively: from this process's directory.
    container = container.withWorkingDir(spec.cwd ?? process.cwd());
    if (spec.readiness !== undefined) {
      const { Wait } = await import('testcontainers');
      container = container.withWaitStrategy(Wait.forSuccessfulCommand(shellLine(spec.readiness)));
    }
    const started = await container.start();
    const id = started.getId();
    const inspected = await setting.api
      .call<{ State?: { Pid?: number } }>('GET', `/containers/${id}/json`)
      .catch(() => undefined);
    this.mainPid = programPid(inspected?.State?.Pid);
    return id;
  }

  /** Waits for the container to end, removes it, and reports how its program ended. */
  private async watch(id: string): Promise<ExitStatus> {
    const code = await this.setting.api.wait(id).catch(() => null);
    await this.setting.api.call('DELETE', `/containers/${id}?force=true&v=true`).catch(() => {});
    this.setting.track(id, false);
    const status = exitOf(code);
    this.gone(status);
    return status;
  }

  private gone(status: ExitStatus): void {
    this.lastExit = status;
    this.live = false;
    this.paused = false;
    this.id = undefined;
  }

  /** Runs `operation` after every engine call sent before it; the chain itself never rejects. */
  private enqueue(operation: () => Promise<void>): Promise<void> {
    const done = this.queue.then(operation);
    this.queue = done.catch(() => {});
    return done;
  }

  /**
   * One call on this container. 'refused' for 404/409: it ended in the meantime, or the engine will not
   * do it in its state (the exit watcher reports an end).
   */
  private async engine(method: 'POST', action: string, timeoutMs?: number): Promise<'done' | 'refused'> {
    if (this.id === undefined) return 'refused';
    try {
      await this.setting.api.call(method, `/containers/${this.id}/${action}`, timeoutMs);
      return 'done';
    } catch (error) {
      const status = (error as { status?: number }).status;
      if (status === 404 || status === 409) return 'refused';
      throw error;
    }
  }
}

/**
 * What a container is given of a program's environment: what the harness set for it (the variables that
 * differ from this process's own: DB_*, HOST, PORT ...) and PATH. The rest of this process's environment
 * (CI tokens, DOCKER_HOST, whatever the caller exported) is not the program's business, and a container's
 * environment is kept in the engine's records (`docker inspect`), unlike a child process's.
 */
export function containerEnvironment(
  env: NodeJS.ProcessEnv | undefined,
  own: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const environment: Record<string, string> = {};
  if (own.PATH !== undefined) environment.PATH = own.PATH;
  for (const [key, value] of Object.entries(env ?? {})) {
    if (value !== undefined && own[key] !== value) environment[key] = value;
  }
  return environment;
}

/** The program's PID: the first child of the container's init (its PID 1 on this machine). */
function programPid(init: number | undefined): number | undefined {
  if (!init) return undefined;
  try {
    const children = readFileSync(`/proc/${init}/task/${init}/children`, 'utf8').trim().split(' ');
    const child = Number(children[0]);
    return Number.isInteger(child) && child > 0 ? child : init;
  } catch {
    return init;
  }
}

/** A rejection handler that undoes a state change, then rethrows. */
function rollBack(undo: () => void): (error: unknown) => never {
  return (error) => {
    undo();
    throw error;
  };
}

/** A container's exit code as a process's status: 128 + n is death by signal n, as a shell reports it. */
export function exitOf(code: number | null): ExitStatus {
  if (code === null) return { code: null, signal: null };
  if (code > 128) {
    const signal = Object.entries(constants.signals).find(([, number]) => number === code - 128)?.[0];
    if (signal !== undefined) return { code: null, signal: signal as NodeJS.Signals };
  }
  return { code, signal: null };
}

/** An argv as one `sh -c` line (testcontainers runs the readiness command through the shell). */
export function shellLine(argv: readonly string[]): string {
  return argv
    .map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`))
    .join(' ');
}
