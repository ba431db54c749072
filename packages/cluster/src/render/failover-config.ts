// A failover manager's configuration for a real host, in @rwsplit/failover's format (FailoverConfig)
// without its secrets: `password`, `replication.password`, `token` and `api.key` are added before each
// start by the unit's assembler (templates/systemd/failover-assemble.mjs.tmpl) from systemd credentials.
import type { FailoverConfig } from '@rwsplit/failover';
import type { Inventory, InventoryHost } from './inventory.js';

/** The secret-free part; every other key is FailoverConfig's. */
export type PublicFailoverConfig = Omit<FailoverConfig, 'password' | 'replication' | 'token' | 'api'> & {
  readonly replication: { readonly user: string };
  readonly api: { readonly certificate: string };
};

/** The server hosts that run a manager, in inventory order. */
export function managerHosts(inventory: Inventory): readonly InventoryHost[] {
  if (inventory.failover === undefined) return [];
  return inventory.hosts.filter((host) => host.server?.failoverManager);
}

export function managerUrl(inventory: Inventory, host: InventoryHost): string {
  return `https://${host.address}:${inventory.failover!.port}`;
}

/** What a manager's configuration is made of, whoever runs it: the harness, or a real host's unit. */
export interface ManagerConfigInput {
  readonly id: string;
  readonly managers: readonly { readonly id: string; readonly url: string }[];
  readonly nodes: readonly {
    readonly name: string;
    readonly host: string;
    readonly port: number;
    readonly neverPromote?: boolean;
  }[];
  readonly user: string;
  readonly replicationUser: string;
  readonly caFile: string;
  readonly apiCertificate: string;
  /** Detection and timing (`intervalMs`, `failAfter`, `leaseMs` ...), as FailoverConfig names them. */
  readonly settings: Partial<Omit<FailoverConfig, 'id' | 'managers' | 'nodes'>>;
  readonly semiSync: { readonly timeoutMs: number; readonly whenNoAck: 'async' | 'block' } | undefined;
}

/**
 * A manager's configuration without its secrets: the one function the harness (which adds them and
 * writes the file 0600) and `rwsplit-cluster render` (whose unit adds them at start) both build it with.
 */
export function managerConfig(input: ManagerConfigInput): PublicFailoverConfig {
  return {
    id: input.id,
    managers: input.managers.map(({ id, url }) => ({ id, url })),
    nodes: input.nodes.map((node) => ({
      name: node.name,
      host: node.host,
      port: node.port,
      ...(node.neverPromote ? { neverPromote: true } : {}),
    })),
    user: input.user,
    replication: { user: input.replicationUser },
    tls: { ca: input.caFile },
    api: { certificate: input.apiCertificate },
    ...input.settings,
    semiSync:
      input.semiSync === undefined
        ? { enabled: false }
        : { enabled: true, timeoutMs: input.semiSync.timeoutMs, whenNoAck: input.semiSync.whenNoAck },
  };
}

export function failoverConfig(inventory: Inventory, self: InventoryHost): PublicFailoverConfig {
  const { cluster, failover } = inventory;
  return managerConfig({
    id: self.name,
    managers: managerHosts(inventory).map((host) => ({ id: host.name, url: managerUrl(inventory, host) })),
    nodes: inventory.hosts.flatMap((host) =>
      host.db === undefined
        ? []
        : [{ name: host.name, host: host.address, port: host.db.port, neverPromote: host.db.neverPromote }],
    ),
    user: cluster.accounts.failover,
    replicationUser: cluster.accounts.replication,
    caFile: cluster.tls.ca,
    apiCertificate: cluster.tls.certificate,
    settings: failover!.settings,
    semiSync: cluster.semiSync,
  });
}
