import { createHash, randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findBinary } from '../binaries.js';
import { ClusterError } from '../errors.js';
import type { HostAccess, HostAnswer, HostClient, HostRequest } from '../host-access.js';
import type { HostModel } from '../host-model.js';
import { runCommand } from '../managed-process.js';
import { clusterFirewall, type FirewallPlan, renderHostFirewall } from './firewall.js';
import { type LabHostSpec, NetnsLab } from './lab.js';

/**
 * A request from inside a host's namespace, made by curl (a process has one network namespace, so Node
 * cannot open a socket in another). Secrets (the bearer token, a body with passwords) go through a
 * 0600 file curl reads as its config, never on a command line any local user can read in `ps`.
 */
function curlClient(lab: NetnsLab, hostName: string): HostClient {
  const caFiles = new Map<string, string>();
  const caFile = (pem: string): string => {
    let file = caFiles.get(pem);
    if (file === undefined) {
      file = join(lab.dir, `ca-${createHash('sha256').update(pem).digest('hex').slice(0, 16)}.pem`);
      writeFileSync(file, pem, { mode: 0o600 });
      caFiles.set(pem, file);
    }
    return file;
  };
  const quote = (text: string) => `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  return async (url: string, request: HostRequest): Promise<HostAnswer> => {
    const lines = [
      `url = ${quote(url)}`,
      'silent',
      'show-error',
      'noproxy = "*"',
      `max-time = ${Math.max(request.timeoutMs / 1_000, 0.1)}`,
      'output = "-"',
      // The status on a line of its own after the body, to split them apart.
      'write-out = "\\n%{http_code}"',
      `request = ${request.method ?? (request.body === undefined ? 'GET' : 'POST')}`,
    ];
    if (request.token !== undefined)
      lines.push(`header = ${quote(`authorization: Bearer ${request.token}`)}`);
    if (request.body !== undefined) {
      lines.push(
        'header = "content-type: application/json"',
        `data-binary = ${quote(JSON.stringify(request.body))}`,
      );
    }
    if (request.ca !== undefined) lines.push(`cacert = ${quote(caFile(request.ca))}`);
    const config = join(lab.dir, `request-${randomBytes(8).toString('hex')}.curlrc`);
    writeFileSync(config, `${lines.join('\n')}\n`, { mode: 0o600 });
    try {
      const line = lab.commandOn(hostName, findBinary('curl'), ['--config', config]);
      // A little over curl's own bound: curl times out first and says so.
      const output = await runCommand(line.command, line.args, { timeoutMs: request.timeoutMs + 2_000 });
      const cut = output.lastIndexOf('\n');
      const status = Number(output.slice(cut + 1));
      const text = output.slice(0, cut);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      return { status, body };
    } finally {
      rmSync(config, { force: true });
    }
  };
}

/**
 * Each host its own network namespace on a lab bridge (see `NetnsLab`), a default-drop nftables firewall
 * per host, addresses from 198.18.0.0/15. The harness reaches a host's services from inside that host
 * (its launcher and its client), never through a hole in the firewall.
 */
export class NetnsHostModel implements HostModel {
  readonly kind = 'netns' as const;
  readonly #lab: NetnsLab;
  readonly #byAddress = new Map<string, string>();
  readonly #claimed = new Map<string, Set<number>>();
  readonly #access = new Map<string, HostAccess>();

  private constructor(lab: NetnsLab) {
    this.#lab = lab;
    for (const host of lab.hosts)
      for (const address of host.addresses) this.#byAddress.set(address, host.name);
  }

  /** Builds the lab with these hosts (`block` pins its /24, 0..511). */
  static async allocate(hosts: readonly LabHostSpec[], block?: number): Promise<NetnsHostModel> {
    return new NetnsHostModel(await NetnsLab.create(hosts, block === undefined ? {} : { block }));
  }

  get lab(): NetnsLab {
    return this.#lab;
  }

  get block(): string {
    return this.#lab.block.prefix;
  }

  get outside(): string {
    return this.#lab.outside;
  }

  address(octet: number): string {
    return `${this.#lab.block.prefix}.${octet}`;
  }

  /** A namespace is the harness's alone: the preferred port, unless a service of this host already has it. */
  async claimPort(host: string, preferred: number): Promise<number> {
    this.#hostName(host);
    const claimed = this.#claimed.get(host) ?? new Set<number>();
    this.#claimed.set(host, claimed);
    let port = preferred;
    while (claimed.has(port)) port++;
    claimed.add(port);
    return port;
  }

  /** Each host has its own address: an account allows exactly its clients'. */
  accountHosts(clients: readonly string[]): readonly string[] {
    return [...new Set(clients)];
  }

  access(host: string): HostAccess {
    const name = this.#hostName(host);
    let access = this.#access.get(name);
    if (access === undefined) {
      access = {
        launch: (command, args) => this.#lab.commandOn(name, command, args),
        request: curlClient(this.#lab, name),
      };
      this.#access.set(name, access);
    }
    return access;
  }

  /** Renders every host's ruleset from the plan and applies it (each host's atomically). */
  async applyFirewall(plan: FirewallPlan): Promise<void> {
    const rules = clusterFirewall(plan);
    for (const host of this.#lab.hosts) {
      await this.#lab.setFirewall(host.name, renderHostFirewall(host.name, rules.get(host.name) ?? []));
    }
  }

  async release(): Promise<void> {
    await this.#lab.destroy();
  }

  #hostName(address: string): string {
    const name = this.#byAddress.get(address);
    if (name === undefined) {
      throw new ClusterError(`${address} is not a host of lab ${this.block}.0/24`, 'CLUSTER_INVALID_OPTION');
    }
    return name;
  }
}
