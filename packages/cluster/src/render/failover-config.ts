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

export function failoverConfig(inventory: Inventory, self: InventoryHost): PublicFailoverConfig {
  const { cluster, failover } = inventory;
  return {
    id: self.name,
    managers: managerHosts(inventory).map((host) => ({ id: host.name, url: managerUrl(inventory, host) })),
    nodes: inventory.hosts.flatMap((host) =>
      host.db === undefined
        ? []
        : [
            {
              name: host.name,
              host: host.address,
              port: host.db.port,
              ...(host.db.neverPromote ? { neverPromote: true } : {}),
            },
          ],
    ),
    user: cluster.accounts.failover,
    replication: { user: cluster.accounts.replication },
    tls: { ca: cluster.tls.ca },
    api: { certificate: cluster.tls.certificate },
    ...failover!.settings,
    semiSync:
      cluster.semiSync === undefined
        ? { enabled: false }
        : { enabled: true, timeoutMs: cluster.semiSync.timeoutMs, whenNoAck: cluster.semiSync.whenNoAck },
  };
}
