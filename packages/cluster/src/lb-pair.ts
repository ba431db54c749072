import { join } from 'node:path';
import { ClusterError } from './errors.js';
import { type HostAccess, runOn } from './host-access.js';
import { Keepalived } from './keepalived.js';
import type { LoadBalancer } from './load-balancer.js';
import { waitFor } from './wait.js';

/** One LB host of the pair: its HAProxy and its keepalived. */
export interface LbNode {
  readonly name: string;
  /** Its own address (VRRP, stats and metrics). */
  readonly host: string;
  readonly haproxy: LoadBalancer;
  readonly keepalived: Keepalived;
  /** True while this host holds the floating address. */
  holdsAddress(): Promise<boolean>;
}

export interface LbPairMember {
  readonly name: string;
  readonly host: string;
  readonly dir: string;
  readonly haproxy: LoadBalancer;
  readonly access: HostAccess;
}

/**
 * Two HAProxy hosts holding one floating address with keepalived (VRRP, unicast, nopreempt). Each
 * keepalived is bound to its HAProxy as systemd's `BindsTo=` would bind it: the moment HAProxy exits,
 * for any reason, its keepalived is stopped gracefully and its priority-0 advert hands the address to
 * the other host within a few adverts (100 ms each), instead of the ~1 s a health-check script needs.
 */
export class LbPair {
  readonly floating: string;
  readonly nodes: readonly LbNode[];
  private readonly members: readonly LbPairMember[];

  constructor(
    members: readonly LbPairMember[],
    floating: string,
    private readonly startTimeoutMs: number,
  ) {
    if (members.length !== 2) throw new ClusterError('an LB pair has two members', 'CLUSTER_INVALID_OPTION');
    this.floating = floating;
    this.nodes = members.map((member, index) => {
      const keepalived = new Keepalived({
        name: member.name,
        dir: member.dir,
        host: member.host,
        peers: members.filter((other) => other !== member).map((other) => other.host),
        floating,
        prefixLength: 24,
        interface: 'eth0',
        // The first wins the first election; afterwards nopreempt keeps the address where it is. Near the
        // top of the range: a backup waits (256 - priority) / 256 of an advert after a priority-0 advert
        // before it takes over, about 1 ms here instead of 40 ms at 150.
        priority: 254 - index,
        routerId: 51,
        access: member.access,
        textfileDir: join(member.dir, 'textfile'),
      });
      return {
        name: member.name,
        host: member.host,
        haproxy: member.haproxy,
        keepalived,
        holdsAddress: () => keepalived.holdsAddress(),
      };
    });
    this.members = members;
  }

  /** Starts both HAProxys (bound to the floating address, held or not), then both keepaliveds; waits for a holder. */
  async start(): Promise<void> {
    for (const member of this.members) {
      // A backup's HAProxy binds the floating address before it holds it, as every keepalived+HAProxy pair does.
      await runOn(member.access, 'sysctl', ['-q', '-w', 'net.ipv4.ip_nonlocal_bind=1']);
    }
    await Promise.all(this.nodes.map((node) => node.haproxy.start()));
    for (const node of this.nodes) {
      node.haproxy.onExit(() => {
        if (node.keepalived.running) void node.keepalived.terminate();
      });
      await node.keepalived.start();
    }
    await this.waitForHolder(this.startTimeoutMs);
  }

  /** The node that holds the floating address now (exactly one), waiting up to `timeoutMs` for one. */
  async waitForHolder(timeoutMs = 5_000, not?: LbNode): Promise<LbNode> {
    return waitFor(
      async () => {
        const holders = [];
        for (const node of this.nodes) if (await node.holdsAddress()) holders.push(node);
        return holders.length === 1 && holders[0] !== not ? holders[0] : undefined;
      },
      {
        what: `one LB holding ${this.floating}${not ? ` other than ${not.name}` : ''}`,
        timeoutMs,
        intervalMs: 20,
      },
    );
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.keepalived.stop()));
    await Promise.all(this.nodes.map((node) => node.haproxy.stop()));
  }
}
