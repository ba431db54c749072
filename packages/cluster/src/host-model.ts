import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { lockBlockNamed, unlockBlockNamed } from './block-lock.js';
import { ClusterError } from './errors.js';
import { type HostAccess, LOCAL_ACCESS } from './host-access.js';

/** The hosts of the topology, by the last octet they get in the cluster's block. */
export const HOST_OCTETS = {
  /** The public address: the LB's on loopback; under netns, the floating address the LB pair holds. */
  lb: 10,
  /** The LB pair's own hosts under netns (`lb-1`, `lb-2`): VRRP, stats and metrics on each. */
  lbHost: (index: number) => 7 + index,
  /** The LB's internal address: stats and the Prometheus exporter, never on the public one. */
  lbInternal: 9,
  server: (index: number) => 11 + index,
  primary: 21,
  /** Prometheus, Alertmanager, the alert receiver and the machine-wide exporters. */
  monitoring: 30,
  dbNode: (index: number) => 21 + index,
} as const;

/**
 * Where hosts live, how a port is claimed on one, and how the harness acts on one. `loopback`: each host
 * its own 127.X.Y.Z of this machine's network stack (no root needed). `netns` (`netns/netns-host-model.ts`):
 * each host a network namespace on a lab bridge, with its own firewall, so the rest of the harness runs
 * unchanged while firewalls, partitions and a floating LB address become real.
 */
export interface HostModel {
  readonly kind: 'loopback' | 'netns';
  /** The /24 block this cluster owns, e.g. `127.113.7` or `198.18.40`. */
  readonly block: string;
  /** Where clients, tests and the harness itself connect from: `127.0.0.1`, or the lab bridge's address. */
  readonly outside: string;
  /** How to start a program on the host with this address, and make requests from it. */
  access(host: string): HostAccess;
  /** Address of the host with the given last octet. */
  address(octet: number): string;
  /** `preferred` if free on `host`, else another free port there (a service bound to 0.0.0.0 takes it). */
  claimPort(host: string, preferred: number): Promise<number>;
  /**
   * The addresses a database account may be used from, given the hosts its clients run on. On loopback
   * every connection between hosts leaves from 127.0.0.1 (the kernel's source address for 127/8, and a
   * MariaDB replica cannot bind another), so that is the one address any account allows; a model where
   * hosts have their own network answers with exactly the clients' addresses.
   */
  accountHosts(clients: readonly string[]): readonly string[];
  /** Lets the block go (its lock, and on netns the namespaces); the processes are the harness's to stop first. */
  release(): Promise<void>;
}

/** Little-endian hex of /proc/net/tcp → dotted quad. */
function procAddress(hex: string): string {
  const n = Number.parseInt(hex, 16);
  return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255].join('.');
}

/** True when no TCP socket on this machine is bound to an address inside the block. */
function blockUnused(block: string): boolean {
  let table = '';
  try {
    table = readFileSync('/proc/net/tcp', 'utf8');
  } catch {
    return true; // not Linux procfs: rely on the lock and on port probes
  }
  const prefix = `${block}.`;
  for (const line of table.split('\n').slice(1)) {
    const local = line.trim().split(/\s+/)[1];
    if (local && procAddress(local.split(':')[0] ?? '').startsWith(prefix)) return false;
  }
  return true;
}

function canListen(host: string, port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen({ host, port, exclusive: true }, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address ? address.port : undefined;
      server.close(() => resolve(bound));
    });
  });
}

export class LoopbackHostModel implements HostModel {
  readonly kind = 'loopback' as const;
  readonly outside = '127.0.0.1';
  private released = false;

  private constructor(readonly block: string) {}

  /** Finds and locks a free `127.X.Y.0/24`; `block` pins one (it must be free). */
  static async allocate(block?: string): Promise<LoopbackHostModel> {
    if (block !== undefined) {
      if (!blockUnused(block) || lockBlockNamed(block) === 'busy') {
        throw new ClusterError(
          `address block ${block}.0/24 is in use; pick another or omit the option`,
          'CLUSTER_NO_FREE_BLOCK',
        );
      }
      return new LoopbackHostModel(block);
    }
    // Random second and third octets keep side-by-side clusters (npm start + npm test) apart.
    for (let attempt = 0; attempt < 64; attempt++) {
      const candidate = `127.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 256)}`;
      if (blockUnused(candidate) && lockBlockNamed(candidate) !== 'busy')
        return new LoopbackHostModel(candidate);
    }
    throw new ClusterError(
      'no free 127.X.Y.0/24 block after 64 tries; are many clusters running?',
      'CLUSTER_NO_FREE_BLOCK',
    );
  }

  address(octet: number): string {
    return `${this.block}.${octet}`;
  }

  async claimPort(host: string, preferred: number): Promise<number> {
    const port = (await canListen(host, preferred)) ?? (await canListen(host, 0));
    if (port === undefined) {
      throw new ClusterError(`cannot bind any port on ${host}`, 'CLUSTER_NO_FREE_BLOCK');
    }
    return port;
  }

  accountHosts(_clients: readonly string[]): readonly string[] {
    return ['127.0.0.1'];
  }

  access(_host: string): HostAccess {
    return LOCAL_ACCESS;
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    unlockBlockNamed(this.block);
  }
}
