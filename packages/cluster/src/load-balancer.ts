import { connect } from 'node:net';
import { join } from 'node:path';
import type { ProcessControl } from './app-server.js';
import { findBinary } from './binaries.js';
import type { IssuedCertificate } from './cluster-ca.js';
import { ClusterError } from './errors.js';
import { type HostAccess, LOCAL_ACCESS, statusFrom, superviseOn } from './host-access.js';
import type { ExitStatus } from './managed-process.js';
import type { Balance, Credentials, LbMode } from './options.js';
import { authority, haproxyConfig, STATS_PASSWORD_ENV } from './render/service-configs.js';
import { acceptsOn, type SupervisedProcess } from './runtime/supervised-process.js';
import { writeRenderedFile } from './templates.js';
import { waitFor } from './wait.js';

export interface LbBackend {
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

export interface LoadBalancerConfig {
  readonly dir: string;
  /** The public address: HTTP (redirect only) and HTTPS. */
  readonly host: string;
  /** The internal address: stats and metrics. */
  readonly internalHost: string;
  /** Where the redirect sends clients (the certificate names it). */
  readonly publicName: string;
  readonly httpPort: number;
  readonly httpsPort: number;
  readonly statsPort: number;
  readonly balance: Balance;
  readonly mode: LbMode;
  readonly backends: readonly LbBackend[];
  readonly certificate: IssuedCertificate;
  /** The cluster CA's certificate, to check our own HTTPS listeners with. */
  readonly caPem: string;
  readonly stats: Credentials;
  readonly startTimeoutMs: number;
  /** How the harness starts HAProxy on the LB's host and probes it there. Default: here. */
  readonly access?: HostAccess;
  /** Its name in logs and errors, `lb-1`. Default `lb`. */
  readonly name?: string;
}

/** A backend server's state as HAProxy's runtime API reports it. */
export interface BackendState {
  readonly name: string;
  /** `UP`, `DOWN`, `MAINT`, `DRAIN`, `NOLB`, or a transition such as `UP 1/3`. */
  readonly status: string;
}

/** HAProxy in the foreground (`-db`), one process the harness owns, with the faults of any server process. */
export class LoadBalancer implements ProcessControl {
  readonly host: string;
  readonly internalHost: string;
  readonly publicName: string;
  readonly httpUrl: string;
  readonly httpsUrl: string;
  readonly statsUrl: string;
  readonly prometheusUrl: string;
  private readonly process: SupervisedProcess;
  private readonly socketPath: string;
  private readonly configPath: string;
  private readonly access: HostAccess;
  private readonly exitListeners: (() => void)[] = [];

  constructor(private readonly config: LoadBalancerConfig) {
    this.host = config.host;
    this.internalHost = config.internalHost;
    this.publicName = config.publicName;
    this.httpUrl = `http://${config.host}:${config.httpPort}`;
    this.httpsUrl = `https://${config.host}:${config.httpsPort}`;
    this.statsUrl = `https://${config.internalHost}:${config.statsPort}/stats`;
    this.prometheusUrl = `https://${config.internalHost}:${config.statsPort}/metrics`;
    this.socketPath = join(config.dir, 'haproxy.sock');
    this.configPath = join(config.dir, 'haproxy.cfg');
    this.access = config.access ?? LOCAL_ACCESS;
    const line = this.access.launch(findBinary('haproxy'), ['-db', '-f', this.configPath]);
    this.process = superviseOn(this.access, {
      name: `${config.name ?? 'lb'} (haproxy)`,
      command: line.command,
      args: line.args,
      logFile: join(config.dir, 'haproxy.log'),
      readiness: acceptsOn(config.internalHost, config.statsPort),
      env: { ...process.env, [STATS_PASSWORD_ENV]: config.stats.password },
    });
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
  /** The public HTTPS port (ProcessControl's `port`; `url` is `httpsUrl`). */
  get port(): number {
    return this.config.httpsPort;
  }
  get url(): string {
    return this.httpsUrl;
  }

  endpoints(): {
    host: string;
    internalHost: string;
    publicName: string;
    httpUrl: string;
    httpsUrl: string;
    statsUrl: string;
    prometheusUrl: string;
  } {
    const { host, internalHost, publicName, httpUrl, httpsUrl, statsUrl, prometheusUrl } = this;
    return { host, internalHost, publicName, httpUrl, httpsUrl, statsUrl, prometheusUrl };
  }

  async start(): Promise<void> {
    const { config } = this;
    // The function `rwsplit-cluster render` writes a real LB's haproxy.cfg with: one source of config. The
    // stats password is not in it: HAProxy reads it from its environment (see the process's env).
    writeRenderedFile(
      this.configPath,
      haproxyConfig({
        runtimeSocket: this.socketPath,
        publicBind: config.host,
        internalBind: config.internalHost,
        publicAuthority: authority(config.publicName, config.httpsPort, 443),
        httpPort: config.httpPort,
        httpsPort: config.httpsPort,
        statsPort: config.statsPort,
        certificate: config.certificate.bundleFile,
        balance: config.balance,
        mode: config.mode,
        statsUser: config.stats.user,
        backends: config.backends,
      }),
      0o600,
    );
    this.process.start();
    void this.process.exited().then(() => {
      for (const listener of this.exitListeners) listener();
    });
    const listening = async () =>
      (await statusFrom(this.access, this.prometheusUrl, 1_000, config.caPem)) === 200;
    await waitFor(async () => ((await listening()) ? true : undefined), {
      what: 'HAProxy to listen',
      timeoutMs: config.startTimeoutMs,
      abortIf: () => this.process.deathReason(),
    });
  }

  /** Calls `listener` whenever HAProxy exits (a crash, a kill, a stop): what `BindsTo=` units hang on. */
  onExit(listener: () => void): void {
    this.exitListeners.push(listener);
  }

  /** Waits until HAProxy's own checks see every backend UP (they start DOWN until `rise` checks pass). */
  async waitAllUp(timeoutMs: number): Promise<void> {
    await waitFor(
      async () => ((await this.backends()).every((backend) => backend.status === 'UP') ? true : undefined),
      { what: 'HAProxy to see every server UP', timeoutMs, abortIf: () => this.process.deathReason() },
    );
  }

  /** One command on the runtime API (`show servers state`, `set server app/server-1 state drain`, ...). */
  async command(line: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect(this.socketPath);
      let answer = '';
      socket.setTimeout(5_000, () => socket.destroy(new Error('runtime API timed out')));
      socket.on('connect', () => socket.end(`${line}\n`));
      socket.on('data', (chunk) => {
        answer += chunk.toString();
      });
      socket.on('error', (error) =>
        reject(new ClusterError(`HAProxy runtime API: ${line}: ${error.message}`, 'CLUSTER_COMMAND_FAILED')),
      );
      socket.on('close', () => resolve(answer));
    });
  }

  /** Each backend server's status, from `show stat`. */
  async backends(): Promise<BackendState[]> {
    const csv = await this.command('show stat');
    const lines = csv.split('\n');
    const header = (lines[0] ?? '').replace(/^# /, '').split(',');
    const column = (name: string) => header.indexOf(name);
    const states: BackendState[] = [];
    for (const line of lines.slice(1)) {
      const fields = line.split(',');
      if (fields[column('pxname')] !== 'app') continue;
      const name = fields[column('svname')] ?? '';
      if (name === 'BACKEND' || name === 'FRONTEND') continue;
      states.push({ name, status: fields[column('status')] ?? '' });
    }
    return states;
  }

  /**
   * Swaps the certificate of every TLS listener without a restart (the runtime API's `set ssl cert`
   * then `commit ssl cert`): new handshakes get `bundlePem` (certificate, then key), open connections
   * keep theirs. The caller has already written it to the bundle file, so a restart keeps it.
   */
  async replaceCertificate(bundlePem: string): Promise<void> {
    const file = this.config.certificate.bundleFile;
    // A payload follows `<<` and ends at the first empty line (command() adds the final newline).
    const staged = await this.command(`set ssl cert ${file} <<\n${bundlePem.trim()}\n`);
    if (!/transaction created|transaction updated/i.test(staged)) {
      throw new ClusterError(
        `HAProxy refused the new certificate: ${staged.trim()}`,
        'CLUSTER_COMMAND_FAILED',
      );
    }
    const committed = await this.command(`commit ssl cert ${file}`);
    if (!/success/i.test(committed)) {
      await this.command(`abort ssl cert ${file}`).catch(() => {});
      throw new ClusterError(
        `HAProxy could not commit the new certificate: ${committed.trim()}`,
        'CLUSTER_COMMAND_FAILED',
      );
    }
  }

  async setServerState(server: string, state: 'ready' | 'drain' | 'maint'): Promise<void> {
    const answer = await this.command(`set server app/${server} state ${state}`);
    if (answer.trim() !== '') {
      throw new ClusterError(
        `HAProxy refused to set ${server} ${state}: ${answer.trim()}`,
        'CLUSTER_COMMAND_FAILED',
      );
    }
  }

  kill(): Promise<void> {
    return this.process.kill();
  }
  terminate(): Promise<void> {
    return this.process.stop(5_000);
  }
  async pause(): Promise<void> {
    await this.process.pause();
  }
  async resume(): Promise<void> {
    await this.process.resume();
  }
  /** Stops it if running, starts it from the same config (and the current certificate), waits until it listens. */
  async restart(): Promise<void> {
    await this.process.stop(5_000);
    await this.start();
  }

  async stop(): Promise<void> {
    await this.process.stop(5_000);
  }
}
