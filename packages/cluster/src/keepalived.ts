import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProcessControl } from './app-server.js';
import { findBinary } from './binaries.js';
import type { HostAccess } from './host-access.js';
import { type ExitStatus, ManagedProcess, runCommand } from './managed-process.js';
import { keepalivedConfig, keepalivedNotifyScript } from './render/service-configs.js';
import { writeRenderedFile } from './templates.js';

export interface KeepalivedConfig {
  /** `lb-1`, `lb-2`: its router id and log name. */
  readonly name: string;
  readonly dir: string;
  /** This LB's own address (VRRP's unicast source). */
  readonly host: string;
  /** The other LBs' addresses (unicast peers). */
  readonly peers: readonly string[];
  /** The address the pair holds. */
  readonly floating: string;
  readonly prefixLength: number;
  /** The interface the address goes on, inside the LB's host. */
  readonly interface: string;
  /** Higher wins the first election; with nopreempt it never takes the address back. */
  readonly priority: number;
  /** One per pair on the link (1..255). */
  readonly routerId: number;
  readonly access: HostAccess;
  /** Where its state goes as a node exporter textfile (`vrrp.prom`): the directory that exporter reads. */
  readonly textfileDir: string;
}

/**
 * keepalived in the foreground (VRRP only), one per LB host. When it ends, however it ends, the harness
 * removes the floating address from its host: a SIGKILLed keepalived leaves the address on its interface
 * (it never ran its own clean-up), and two hosts answering for one address is the failure this pair
 * exists to prevent. (On real hosts: systemd's ExecStopPost does the same.)
 */
export class Keepalived implements ProcessControl {
  readonly host: string;
  readonly port = 0;
  readonly url: string;
  private readonly process: ManagedProcess;
  private readonly configPath: string;

  constructor(private readonly config: KeepalivedConfig) {
    this.host = config.host;
    this.url = `vrrp://${config.host}`;
    this.configPath = join(config.dir, 'keepalived.conf');
    const line = config.access.launch(findBinary('keepalived'), [
      '--dont-fork',
      '--log-console',
      '--vrrp',
      '--use-file',
      this.configPath,
      // Its own pid files: the defaults in /run would collide between the LB hosts of one machine.
      '--pid',
      join(config.dir, 'keepalived.pid'),
      '--vrrp_pid',
      join(config.dir, 'keepalived-vrrp.pid'),
    ]);
    this.process = new ManagedProcess({
      name: `${config.name} keepalived`,
      command: line.command,
      args: line.args,
      logFile: join(config.dir, 'keepalived.log'),
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

  /** The node exporter textfile with `rwsplit_lb_vrrp_master`. */
  get stateFile(): string {
    return join(this.config.textfileDir, 'vrrp.prom');
  }

  async start(): Promise<void> {
    const { config } = this;
    mkdirSync(config.textfileDir, { recursive: true });
    const notifyScript = join(config.dir, 'keepalived-notify.sh');
    // Root's, 0755 in a directory only root may write: keepalived's script security runs nothing else.
    writeRenderedFile(notifyScript, keepalivedNotifyScript(config.name, this.stateFile), 0o755);
    this.writeState(false);
    // The functions `rwsplit-cluster render` writes a real LB's keepalived files with: one source of config.
    writeRenderedFile(
      this.configPath,
      keepalivedConfig({
        hostName: config.name,
        self: config.host,
        peers: config.peers,
        floating: config.floating,
        prefixLength: config.prefixLength,
        interface: config.interface,
        routerId: config.routerId,
        priority: config.priority,
        notifyScript,
      }),
    );
    this.process.start();
    void this.process.exited().then(() => this.releaseAddress());
  }

  /** Whether this LB's host holds the floating address now. */
  async holdsAddress(): Promise<boolean> {
    return (await this.ip(['-4', '-o', 'address', 'show', 'dev', this.config.interface])).includes(
      ` ${this.config.floating}/`,
    );
  }

  kill(): Promise<void> {
    return this.process.kill();
  }
  /** SIGTERM: keepalived sends a priority-0 advert, so the peer takes over at once. */
  terminate(): Promise<void> {
    return this.process.stop(5_000);
  }
  async pause(): Promise<void> {
    this.process.pause();
  }
  async resume(): Promise<void> {
    this.process.resume();
  }
  async restart(): Promise<void> {
    await this.process.stop(5_000);
    await this.releaseAddress();
    await this.start();
  }
  stop(): Promise<void> {
    return this.process.stop(5_000);
  }

  /** What the notify hook writes; the harness writes it too when keepalived dies without a word. */
  private writeState(master: boolean): void {
    const text = `# HELP rwsplit_lb_vrrp_master 1 while this LB holds the floating address.\n# TYPE rwsplit_lb_vrrp_master gauge\nrwsplit_lb_vrrp_master ${master ? 1 : 0}\n`;
    writeFileSync(`${this.stateFile}.tmp`, text);
    renameSync(`${this.stateFile}.tmp`, this.stateFile);
  }

  private async releaseAddress(): Promise<void> {
    this.writeState(false);
    if (!(await this.holdsAddress().catch(() => false))) return;
    const { floating, prefixLength } = this.config;
    await this.ip(['address', 'del', `${floating}/${prefixLength}`, 'dev', this.config.interface]).catch(
      () => {},
    );
  }

  private ip(args: readonly string[]): Promise<string> {
    const line = this.config.access.launch(findBinary('ip'), args);
    return runCommand(line.command, line.args, { timeoutMs: 5_000 });
  }
}
