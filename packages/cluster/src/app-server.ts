import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { findBinary } from './binaries.js';
import { type HostAccess, LOCAL_ACCESS, statusFrom, superviseOn } from './host-access.js';
import type { LoadBalancer } from './load-balancer.js';
import type { ExitStatus } from './managed-process.js';
import type { AppSpec } from './options.js';
import { nginxConfig } from './render/service-configs.js';
import { acceptsOn, type SupervisedProcess } from './runtime/supervised-process.js';
import { writeRenderedFile } from './templates.js';
import { waitFor } from './wait.js';

/** The faults every server process (an app or its Nginx) can suffer; each is reversible. */
export interface ProcessControl {
  readonly host: string;
  readonly port: number;
  /** `http://host:port` */
  readonly url: string;
  readonly pid: number | undefined;
  readonly running: boolean;
  /** How its last run ended (`{ code: 0, signal: null }` after a graceful stop); undefined while running. */
  readonly exitStatus: ExitStatus | undefined;
  /** SIGKILL (with its workers). Undo with restart(). */
  kill(): Promise<void>;
  /** SIGTERM and wait for a graceful exit. Undo with restart(). */
  terminate(): Promise<void>;
  /** SIGSTOP: it hangs with its sockets open. Undo with resume(). */
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Stops it if running (gracefully), starts it and waits until it answers. */
  restart(): Promise<void>;
}

/** One app server host: Nginx in front of the app, as HAProxy sees it. */
export interface Server {
  /** `server-1`, `server-2` */
  readonly name: string;
  readonly host: string;
  readonly nginx: ProcessControl;
  /** Nginx's connection counters (`stub_status`), on the server's own address only. */
  readonly nginxStatusUrl: string;
  readonly app: ProcessControl;
  /** Every HAProxy stops sending it new requests (runtime API `drain`); in-flight ones finish. Undo with undrain(). */
  drain(): Promise<void>;
  undrain(): Promise<void>;
}

class ServiceProcess implements ProcessControl {
  readonly url: string;

  constructor(
    readonly host: string,
    readonly port: number,
    private readonly process: SupervisedProcess,
    private readonly readyPath: string,
    private readonly timeoutMs: number,
    /** Its host's: readiness is asked from there (under netns, from inside the host's namespace). */
    private readonly access: HostAccess,
    private readonly beforeStart: () => void = () => {},
  ) {
    this.url = `http://${host}:${port}`;
  }

  get pid(): number | undefined {
    return this.process.pid;
  }
  get running(): boolean {
    return this.process.running;
  }
  get exitStatus(): ExitStatus | undefined {
    return this.process.exitStatus;
  }

  async start(): Promise<void> {
    this.beforeStart();
    this.process.start();
    await waitFor(
      async () =>
        (await statusFrom(this.access, `${this.url}${this.readyPath}`)) === 200 ? true : undefined,
      {
        what: `${this.process.name} to answer ${this.readyPath} with 200`,
        timeoutMs: this.timeoutMs,
        abortIf: () => this.process.deathReason(),
      },
    );
  }

  kill(): Promise<void> {
    return this.process.kill();
  }
  terminate(): Promise<void> {
    return this.process.stop(15_000);
  }
  async pause(): Promise<void> {
    await this.process.pause();
  }
  async resume(): Promise<void> {
    await this.process.resume();
  }
  async restart(): Promise<void> {
    await this.process.stop(15_000);
    await this.start();
  }
}

export interface ServerConfig {
  readonly name: string;
  readonly dir: string;
  readonly host: string;
  readonly appPort: number;
  readonly nginxPort: number;
  /** Nginx's `stub_status`, for the monitoring host's exporter; never behind the LB. */
  readonly nginxStatusPort: number;
  readonly app: AppSpec;
  /** Topology and credentials handed to the app (`DB_PRIMARY`, `DB_REPLICAS`, `DB_USER` ...). */
  readonly appEnv: Readonly<Record<string, string>>;
  readonly startTimeoutMs: number;
  /** Every load balancer (one, or the pair), once they exist: servers start before them. */
  readonly lbs: () => readonly LoadBalancer[];
  /** How the harness starts processes on this server's host and probes them there. Default: here. */
  readonly access?: HostAccess;
}

export class AppServerHost implements Server {
  readonly name: string;
  readonly host: string;
  readonly app: ServiceProcess;
  readonly nginx: ServiceProcess;
  readonly nginxStatusUrl: string;

  constructor(private readonly config: ServerConfig) {
    this.name = config.name;
    this.host = config.host;
    this.nginxStatusUrl = `http://${config.host}:${config.nginxStatusPort}/stub_status`;
    const [command = 'node', ...args] = config.app.command;
    const readyPath = config.app.readyPath ?? '/readyz';
    const access = config.access ?? LOCAL_ACCESS;
    const appLine = access.launch(command, args);
    this.app = new ServiceProcess(
      config.host,
      config.appPort,
      superviseOn(access, {
        name: `${config.name} app`,
        command: appLine.command,
        args: appLine.args,
        logFile: join(config.dir, 'app.log'),
        readiness: acceptsOn(config.host, config.appPort),
        env: {
          ...process.env,
          ...config.appEnv,
          ...config.app.env,
          HOST: config.host,
          PORT: String(config.appPort),
          SERVER_NAME: config.name,
        },
        ...(config.app.cwd === undefined ? {} : { cwd: config.app.cwd }),
      }),
      readyPath,
      config.startTimeoutMs,
      access,
    );
    const nginxConfig = join(config.dir, 'nginx.conf');
    // -e: the compiled-in error log (/var/log/nginx) may not be writable; -p keeps relative paths ours.
    const nginxLine = access.launch(findBinary('nginx'), [
      '-p',
      config.dir,
      '-c',
      nginxConfig,
      '-e',
      join(config.dir, 'nginx-error.log'),
    ]);
    this.nginx = new ServiceProcess(
      config.host,
      config.nginxPort,
      superviseOn(access, {
        name: `${config.name} nginx`,
        command: nginxLine.command,
        args: nginxLine.args,
        logFile: join(config.dir, 'nginx.out'),
        readiness: acceptsOn(config.host, config.nginxPort),
      }),
      readyPath,
      config.startTimeoutMs,
      access,
      () => this.renderNginxConfig(nginxConfig),
    );
  }

  async start(): Promise<void> {
    await this.app.start();
    await this.nginx.start();
  }

  async stop(): Promise<void> {
    await Promise.all([this.nginx.terminate(), this.app.terminate()]);
  }

  async drain(): Promise<void> {
    await Promise.all(this.config.lbs().map((lb) => lb.setServerState(this.name, 'drain')));
  }

  async undrain(): Promise<void> {
    await Promise.all(this.config.lbs().map((lb) => lb.setServerState(this.name, 'ready')));
  }

  private renderNginxConfig(target: string): void {
    const tempDir = join(this.config.dir, 'nginx-temp');
    mkdirSync(tempDir, { recursive: true });
    // The function `rwsplit-cluster render` writes a real server's nginx.conf with: one source of config.
    writeRenderedFile(
      target,
      nginxConfig({
        // As root, workers would otherwise switch to `nobody` and lose access to the state dir.
        userDirective: process.getuid?.() === 0 ? 'user root root;' : '',
        pidFile: join(this.config.dir, 'nginx.pid'),
        errorLog: join(this.config.dir, 'nginx-error.log'),
        accessLog: join(this.config.dir, 'nginx-access.log'),
        tempDir,
        listen: this.config.host,
        port: this.config.nginxPort,
        statusPort: this.config.nginxStatusPort,
        appHost: this.config.host,
        appPort: this.config.appPort,
        serverName: this.config.name,
        staticDir: this.config.app.staticDir,
        internalPaths: this.config.app.internalPaths ?? ['/metrics'],
      }),
    );
  }
}
