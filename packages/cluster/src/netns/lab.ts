import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBinary } from '../binaries.js';
import { ClusterError } from '../errors.js';
import { runCommand } from '../managed-process.js';
import { LAB_BLOCKS, type LabBlock, labBlock, lockBlock, unlockBlock } from './lab-block.js';

/** A host to create: its name and the last octets of its addresses (the first is its own). */
export interface LabHostSpec {
  readonly name: string;
  readonly octets: readonly number[];
}

/** A host of the lab: a network namespace joined to the lab bridge by a veth pair. */
export interface LabHost {
  readonly name: string;
  readonly namespace: string;
  /** Its own address (the first of `addresses`). */
  readonly address: string;
  readonly addresses: readonly string[];
  /** The root namespace's end of its veth pair, on the bridge: `ip link set <it> down` cuts the host off. */
  readonly link: string;
}

export interface LabOptions {
  /** Pin the /24 (0..511 of 198.18.0.0/15); it must be free. Default: a random free one. */
  readonly block?: number;
}

/** The lab's own directory (rule files, request files): removed with the lab, or with a dead lab's leftovers. */
export function labDir(block: LabBlock): string {
  return join(tmpdir(), 'rwsplit-labs', String(block.index));
}

const BRIDGE_FORWARD_COMMENT = (block: LabBlock) => `rwsplit-lab-${block.index}`;

/** `ip`, `nft` and friends, with the lab's error on failure. */
function run(binary: string, args: readonly string[]): Promise<string> {
  return runCommand(findBinary(binary), args, { timeoutMs: 15_000 });
}

async function namespaces(): Promise<string[]> {
  const listing = await run('ip', ['netns', 'list']);
  // `name (id: 3)` or just `name`.
  return listing
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter((name) => name !== '');
}

async function linkExists(name: string): Promise<boolean> {
  try {
    await run('ip', ['link', 'show', 'dev', name]);
    return true;
  } catch {
    return false;
  }
}

/**
 * A machine that once ran Docker with its iptables rules has FORWARD's policy at DROP while bridge
 * netfilter is on, which silently drops the frames our bridge carries between namespaces. An accept in a
 * table of our own would not help (every base chain on the hook must accept), so the rule goes into that
 * chain itself, marked with the lab's comment, and comes out at stop (or when a dead lab is cleaned).
 */
async function allowBridgeForwarding(block: LabBlock): Promise<void> {
  let chain: string;
  try {
    chain = await run('nft', ['list', 'chain', 'ip', 'filter', 'FORWARD']);
  } catch {
    return; // no iptables FORWARD chain: nothing filters bridged traffic
  }
  if (!/policy drop/.test(chain)) return;
  await run('nft', [
    'insert',
    'rule',
    'ip',
    'filter',
    'FORWARD',
    'iifname',
    block.bridge,
    'oifname',
    block.bridge,
    'accept',
    'comment',
    `"${BRIDGE_FORWARD_COMMENT(block)}"`,
  ]);
}

async function removeBridgeForwarding(block: LabBlock): Promise<void> {
  let chain: string;
  try {
    chain = await run('nft', ['-a', 'list', 'chain', 'ip', 'filter', 'FORWARD']);
  } catch {
    return;
  }
  const marker = `comment "${BRIDGE_FORWARD_COMMENT(block)}"`;
  for (const line of chain.split('\n')) {
    const handle = line.includes(marker) ? /# handle (\d+)/.exec(line)?.[1] : undefined;
    if (handle !== undefined) {
      await run('nft', ['delete', 'rule', 'ip', 'filter', 'FORWARD', 'handle', handle]).catch(() => {});
    }
  }
}

/**
 * Removes everything a lab of this block may have left: its namespaces (their veths and nftables rules go
 * with them), its bridge, its forwarding rule. Safe to run on a block that has nothing.
 */
export async function removeLab(block: LabBlock): Promise<void> {
  const errors: string[] = [];
  for (const name of await namespaces()) {
    if (!name.startsWith(block.namespacePrefix)) continue;
    await run('ip', ['netns', 'delete', name]).catch((error: Error) => errors.push(error.message));
  }
  // Each host's end on the bridge, explicitly: it goes with its namespace only once nothing holds that
  // namespace any more, and once (an unnamed namespace outliving its processes) two of them did not.
  const links = await run('ip', ['-o', 'link', 'show']);
  for (const match of links.matchAll(/^\d+: ([^:@\s]+)/gm)) {
    const name = match[1] ?? '';
    if (name.startsWith(`rws${block.index}h`)) {
      // Usually gone already, or going (a namespace's teardown is asynchronous): only a link that stays counts.
      await run('ip', ['link', 'delete', 'dev', name]).catch(async (error: Error) => {
        if (await linkExists(name)) errors.push(error.message);
      });
    }
  }
  if (await linkExists(block.bridge)) {
    await run('ip', ['link', 'delete', 'dev', block.bridge]).catch((error: Error) =>
      errors.push(error.message),
    );
  }
  await removeBridgeForwarding(block);
  rmSync(labDir(block), { recursive: true, force: true });
  if (errors.length > 0) {
    throw new ClusterError(
      `could not remove all of lab ${block.prefix}.0/24:\n${errors.join('\n')}`,
      'CLUSTER_COMMAND_FAILED',
    );
  }
}

/**
 * Hosts with their own network: one namespace per host, each joined to one lab bridge by a veth pair,
 * addresses from the lab's /24 of 198.18.0.0/15. The bridge's own address (`.1`) is "outside": the root
 * namespace, where clients and tests run. No namespace has a default route, so nothing leaves the lab.
 * Root only (Linux). `destroy()` removes it all; a lab whose owner died is removed by the next `create`
 * that takes its block.
 */
export class NetnsLab {
  readonly block: LabBlock;
  /** The root namespace's address on the lab bridge. */
  readonly outside: string;
  /** The lab's own directory (0700), for files its commands read. */
  readonly dir: string;
  readonly #hosts = new Map<string, LabHost>();
  #destroyed = false;

  private constructor(block: LabBlock) {
    this.block = block;
    this.outside = `${block.prefix}.1`;
    this.dir = labDir(block);
  }

  /** Takes a free block (removing a dead lab's leftovers in it), builds the bridge and every host. */
  static async create(hosts: readonly LabHostSpec[], options: LabOptions = {}): Promise<NetnsLab> {
    if (process.platform !== 'linux' || process.getuid?.() !== 0) {
      throw new ClusterError(
        'the netns host model needs root on Linux; use the loopback one',
        'CLUSTER_INVALID_OPTION',
      );
    }
    checkSpecs(hosts);
    const block = await takeBlock(options.block);
    const lab = new NetnsLab(block);
    try {
      mkdirSync(lab.dir, { recursive: true, mode: 0o700 });
      await lab.#build(hosts);
      return lab;
    } catch (error) {
      await lab.destroy().catch(() => {});
      throw error;
    }
  }

  get hosts(): readonly LabHost[] {
    return [...this.#hosts.values()];
  }

  host(name: string): LabHost {
    const host = this.#hosts.get(name);
    if (host === undefined) {
      throw new ClusterError(
        `no lab host ${name}; the lab has ${[...this.#hosts.keys()].join(', ')}`,
        'CLUSTER_INVALID_OPTION',
      );
    }
    return host;
  }

  /** The command line that runs `command` on `host` (inside its namespace), for spawning it yourself. */
  commandOn(host: string, command: string, args: readonly string[]): { command: string; args: string[] } {
    return {
      command: findBinary('ip'),
      args: ['netns', 'exec', this.host(host).namespace, command, ...args],
    };
  }

  /** Runs a command on `host` to its end and returns its output (throws with the output if it fails). */
  run(host: string, command: string, args: readonly string[], timeoutMs = 15_000): Promise<string> {
    const line = this.commandOn(host, command, args);
    return runCommand(line.command, line.args, { timeoutMs });
  }

  /** Replaces the host's whole nftables ruleset with `ruleset` (nft syntax), atomically. */
  async setFirewall(host: string, ruleset: string): Promise<void> {
    const file = join(this.dir, `nftables-${host}.nft`);
    // `flush ruleset` first, in the same transaction: the namespace's rules are the lab's alone.
    writeFileSync(file, `flush ruleset\n${ruleset}`, { mode: 0o600 });
    await this.run(host, findBinary('nft'), ['-f', file]);
  }

  /** The host's current ruleset as nft prints it. */
  firewall(host: string): Promise<string> {
    return this.run(host, findBinary('nft'), ['list', 'ruleset']);
  }

  /** Removes every namespace, veth and rule, then lets the block go. Idempotent. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    try {
      await removeLab(this.block);
    } finally {
      unlockBlock(this.block);
    }
  }

  async #build(hosts: readonly LabHostSpec[]): Promise<void> {
    const { block } = this;
    await run('ip', ['link', 'add', 'name', block.bridge, 'type', 'bridge']);
    await run('ip', ['address', 'add', `${this.outside}/24`, 'dev', block.bridge]);
    await run('ip', ['link', 'set', 'dev', block.bridge, 'up']);
    // Outside follows a moved address (the LB pair's) at the first gratuitous ARP: by default a neighbour
    // entry refreshed within the last second ignores it, and clients keep sending to the old LB.
    await run('sysctl', ['-q', '-w', `net.ipv4.neigh.${block.bridge}.locktime=0`]);
    await allowBridgeForwarding(block);
    for (const spec of hosts) {
      const namespace = `${block.namespacePrefix}${spec.name}`;
      const [own = 0] = spec.octets;
      const link = `rws${block.index}h${own}`;
      const addresses = spec.octets.map((octet) => `${block.prefix}.${octet}`);
      await run('ip', ['netns', 'add', namespace]);
      this.#hosts.set(spec.name, {
        name: spec.name,
        namespace,
        address: addresses[0] ?? '',
        addresses,
        link,
      });
      await run('ip', [
        'link',
        'add',
        'name',
        link,
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'netns',
        namespace,
      ]);
      await run('ip', ['link', 'set', 'dev', link, 'master', block.bridge, 'up']);
      for (const address of addresses) {
        await run('ip', ['-n', namespace, 'address', 'add', `${address}/24`, 'dev', 'eth0']);
      }
      await run('ip', ['-n', namespace, 'link', 'set', 'dev', 'eth0', 'up']);
      // A host reaches its own addresses over lo (its Nginx → its app).
      await run('ip', ['-n', namespace, 'link', 'set', 'dev', 'lo', 'up']);
      // Connection tracking from the first packet: a firewall applied later (`ct state established
      // accept`, `ct state invalid drop`) must know the connections opened before it, or it picks them up
      // mid-stream and may drop their packets as invalid (seen: a replica's replication stalling).
      await this.setFirewall(
        spec.name,
        'table inet rwsplit {\n    chain input {\n        type filter hook input priority filter; policy accept;\n        ct state established,related accept\n    }\n}\n',
      );
    }
  }
}

function checkSpecs(hosts: readonly LabHostSpec[]): void {
  const names = new Set<string>();
  const octets = new Set<number>();
  for (const host of hosts) {
    if (!/^[a-z][a-z0-9-]{0,30}$/.test(host.name)) {
      throw new ClusterError(
        `lab host name ${JSON.stringify(host.name)}: use a-z, 0-9 and -`,
        'CLUSTER_INVALID_OPTION',
      );
    }
    if (names.has(host.name))
      throw new ClusterError(`lab host ${host.name} given twice`, 'CLUSTER_INVALID_OPTION');
    names.add(host.name);
    if (host.octets.length === 0)
      throw new ClusterError(`lab host ${host.name} has no address`, 'CLUSTER_INVALID_OPTION');
    for (const octet of host.octets) {
      // .0 is the network, .1 outside (the bridge), .255 broadcast.
      if (!Number.isInteger(octet) || octet < 2 || octet > 254 || octets.has(octet)) {
        throw new ClusterError(
          `lab host ${host.name}: address octet ${octet} is taken or outside 2..254`,
          'CLUSTER_INVALID_OPTION',
        );
      }
      octets.add(octet);
    }
  }
}

async function takeBlock(pinned: number | undefined): Promise<LabBlock> {
  const candidates =
    pinned !== undefined
      ? [pinned]
      : Array.from({ length: 64 }, () => Math.floor(Math.random() * LAB_BLOCKS));
  for (const index of candidates) {
    const block = labBlock(index);
    const lock = lockBlock(block);
    if (lock === 'busy') continue;
    // Taken: whatever is there belongs to a dead owner (a stale lock) or to nobody; clear it either way.
    try {
      await removeLab(block);
      if (await linkExists(block.bridge))
        throw new ClusterError(`bridge ${block.bridge} could not be removed`, 'CLUSTER_COMMAND_FAILED');
    } catch (error) {
      unlockBlock(block);
      throw error;
    }
    return block;
  }
  throw new ClusterError(
    pinned !== undefined
      ? `lab block ${labBlock(pinned).prefix}.0/24 is in use; pick another or omit the option`
      : 'no free lab block after 64 tries; are many labs running?',
    'CLUSTER_NO_FREE_BLOCK',
  );
}
