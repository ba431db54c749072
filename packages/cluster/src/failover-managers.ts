import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { FAILOVER_CLI, type ManagerStatus } from '@rwsplit/failover';
import { type ClusterCa, issueCertificate } from './cluster-ca.js';
import { ClusterError } from './errors.js';
import { type HostAccess, LOCAL_ACCESS, superviseOn } from './host-access.js';
import type { MariaDbNode } from './mariadb-node.js';
import type { Credentials, ResolvedOptions } from './options.js';
import { managerConfig } from './render/failover-config.js';
import { acceptsOn, type SupervisedProcess } from './runtime/supervised-process.js';
import { waitFor } from './wait.js';

/**
 * How to run the managers' program: the one of the `@rwsplit/failover` this module loaded. Installed, that
 * is its build, for plain Node. In the repository the `source` condition loads its TypeScript, which runs
 * through the workspace's tsx (`--import` resolves from `cwd`, the package's own directory, whose
 * ancestors' node_modules hold it) with the same condition for its own imports.
 */
const FAILOVER_ARGS: readonly string[] = FAILOVER_CLI.endsWith('.ts')
  ? ['--conditions=source', '--import', 'tsx', FAILOVER_CLI]
  : [FAILOVER_CLI];

/** One failover manager the harness runs, as a test sees it. */
export interface FailoverManagerHandle {
  readonly id: string;
  /** Its HTTP API: `/status`, `/metrics`, `/switchover`, `/rejoin`. */
  readonly url: string;
  /** Its configuration file, for `rwsplit-failover status --config`. */
  readonly configFile: string;
  readonly running: boolean;
  readonly pid: number | undefined;
  /** Bearer token for its API. */
  readonly token: string;
  /** SIGKILL, like a crashed host. Undo with `start()`. */
  kill(): Promise<void>;
  /** SIGSTOP / SIGCONT: a manager that hangs with its connections open. */
  pause(): void;
  resume(): void;
  start(): Promise<void>;
  /** Its view of the cluster (`GET /status`). */
  status(): Promise<ManagerStatus>;
  /** `POST` to its API; rejects with the answer when it refuses. */
  post(path: string, body: unknown): Promise<unknown>;
}

export interface ManagerHost {
  readonly host: string;
  readonly port: number;
  /** How the harness starts the manager on its host and calls its API from there. Default: here. */
  readonly access?: HostAccess;
}

class ManagerProcess implements FailoverManagerHandle {
  readonly url: string;
  private readonly process: SupervisedProcess;
  private readonly access: HostAccess;

  constructor(
    readonly id: string,
    host: ManagerHost,
    readonly configFile: string,
    readonly token: string,
    logFile: string,
    private readonly startTimeoutMs: number,
    private readonly caPem: string,
  ) {
    this.url = `https://${host.host}:${host.port}`;
    this.access = host.access ?? LOCAL_ACCESS;
    const line = this.access.launch(process.execPath, [...FAILOVER_ARGS, 'run', '--config', configFile]);
    this.process = superviseOn(this.access, {
      name: id,
      command: line.command,
      args: line.args,
      logFile,
      cwd: dirname(FAILOVER_CLI),
      readiness: acceptsOn(host.host, host.port),
    });
  }

  get running(): boolean {
    return this.process.running;
  }
  get pid(): number | undefined {
    return this.process.pid;
  }

  kill(): Promise<void> {
    return this.process.kill();
  }
  pause(): void {
    void this.process.pause();
  }
  resume(): void {
    void this.process.resume();
  }

  async start(): Promise<void> {
    this.process.start();
    await waitFor(
      async () => ((await this.status()).nodes.some((n) => n.state !== 'unknown') ? true : undefined),
      {
        what: `${this.id} to answer ${this.url}/status`,
        timeoutMs: this.startTimeoutMs,
        intervalMs: 100,
        abortIf: () => this.process.deathReason(),
      },
    );
  }

  async status(): Promise<ManagerStatus> {
    const answer = await this.access.request(`${this.url}/status`, {
      token: this.token,
      ca: this.caPem,
      timeoutMs: 2_000,
    });
    if (answer.status !== 200) throw new Error(`${this.id} answered ${answer.status}`);
    return answer.body as ManagerStatus;
  }

  async post(path: string, body: unknown): Promise<unknown> {
    const answer = await this.access.request(`${this.url}${path}`, {
      method: 'POST',
      token: this.token,
      ca: this.caPem,
      body,
      timeoutMs: 10 * 60_000,
    });
    if (answer.status !== 200) {
      const { error, code } = (answer.body ?? {}) as { error?: string; code?: string };
      throw new ClusterError(
        `${this.id} refused ${path}: ${error ?? answer.status} (${code ?? ''})`,
        'CLUSTER_COMMAND_FAILED',
      );
    }
    return answer.body;
  }

  stop(): Promise<void> {
    return this.process.stop(5_000);
  }
}

/** The managers of one cluster: their configuration, processes and the wait for a leader. */
export class FailoverManagers {
  readonly handles: ManagerProcess[] = [];

  private constructor() {}

  /**
   * Writes each manager's configuration (0600: it holds its account's password and the shared token) and
   * its API certificate from the cluster CA; the API is HTTPS, checked against that CA by peers and by
   * the harness.
   */
  static async create(
    dir: string,
    hosts: readonly ManagerHost[],
    nodes: readonly MariaDbNode[],
    account: Credentials,
    replication: Credentials,
    ca: ClusterCa,
    options: NonNullable<ResolvedOptions['failover']>,
    semiSync: ResolvedOptions['semiSync'],
    startTimeoutMs: number,
  ): Promise<FailoverManagers> {
    const self = new FailoverManagers();
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const token = randomBytes(24).toString('hex');
    const managers = hosts.map((host, index) => ({
      id: `manager-${index + 1}`,
      url: `https://${host.host}:${host.port}`,
    }));
    const { managers: _count, ...settings } = options;
    for (const [index, manager] of managers.entries()) {
      const configFile = join(dir, `${manager.id}.json`);
      const host = hosts[index]!;
      const certificate = await issueCertificate(ca, dir, manager.id, manager.id, [host.host]);
      // The function `rwsplit-cluster render` builds a real host's manager config with, plus the secrets.
      const config = {
        ...managerConfig({
          id: manager.id,
          managers,
          nodes,
          user: account.user,
          replicationUser: replication.user,
          caFile: ca.certificateFile,
          apiCertificate: certificate.certificateFile,
          settings,
          semiSync,
        }),
        password: account.password,
        replication,
        api: { certificate: certificate.certificateFile, key: certificate.keyFile },
        token,
      };
      writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
      self.handles.push(
        new ManagerProcess(
          manager.id,
          host,
          configFile,
          token,
          join(dir, `${manager.id}.log`),
          startTimeoutMs,
          ca.certificatePem,
        ),
      );
    }
    return self;
  }

  async start(timeoutMs: number): Promise<void> {
    await Promise.all(this.handles.map((handle) => handle.start()));
    await this.leader(timeoutMs);
  }

  /** The manager that leads now; waits up to `timeoutMs` for one. */
  async leader(timeoutMs = 10_000): Promise<FailoverManagerHandle> {
    return waitFor(
      async () => {
        for (const handle of this.handles) {
          if (!handle.running) continue;
          const status = await handle.status().catch(() => undefined);
          if (status?.leader) return handle;
        }
        return undefined;
      },
      { what: 'a failover manager to lead (hold a quorum)', timeoutMs, intervalMs: 100 },
    );
  }

  async stop(): Promise<void> {
    await Promise.all(this.handles.map((handle) => handle.stop()));
  }
}
