import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ClusterError } from '../src/errors.js';
import { InventoryError, resolveInventory } from '../src/render/inventory.js';

const EXAMPLE = JSON.parse(
  readFileSync(new URL('../examples/hosts.example.json', import.meta.url), 'utf8'),
) as Record<string, unknown> & { hosts: Record<string, unknown>[]; cluster: Record<string, unknown> };

/** The example inventory, changed by `edit` (a fresh copy each time). */
function inventory(edit: (raw: typeof EXAMPLE) => void = () => {}): typeof EXAMPLE {
  const raw = structuredClone(EXAMPLE);
  edit(raw);
  return raw;
}

/** The InventoryError an inventory fails with. */
function failure(raw: unknown): InventoryError {
  try {
    resolveInventory(raw);
  } catch (error) {
    if (error instanceof InventoryError) return error;
    throw error;
  }
  throw new Error('the inventory was accepted');
}

describe('resolveInventory', () => {
  it('accepts the example inventory and fills in the defaults', () => {
    const resolved = resolveInventory(inventory());
    expect(resolved.hosts.map((h) => h.name)).toEqual([
      'lb-1',
      'lb-2',
      'server-1',
      'server-2',
      'db-1',
      'db-2',
      'db-3',
      'monitoring',
    ]);
    expect(resolved.cluster.accounts).toMatchObject({ app: 'notes_app', replication: 'rwsplit_repl' });
    expect(resolved.paths.datadir).toBe('/var/lib/mysql');
    expect(resolved.hosts[2]?.server?.nginxPort).toBe(8080);
    expect(resolved.failover?.port).toBe(7301);
    expect(Object.isFrozen(resolved.hosts[0])).toBe(true);
  });

  it('is a ClusterError with CLUSTER_INVALID_OPTION and the field it names', () => {
    const error = failure(inventory((raw) => Object.assign(raw.hosts[2]!, { address: 'x' })));
    expect(error).toBeInstanceOf(ClusterError);
    expect(error.code).toBe('CLUSTER_INVALID_OPTION');
    expect(error.field).toBe('hosts[2].address');
    expect(error.message).toBe('hosts[2].address: expected an IPv4 address such as "198.18.10.21", got "x"');
  });

  it.each([
    [
      'an address out of range',
      (raw: typeof EXAMPLE) => Object.assign(raw.hosts[0]!, { address: '198.18.10.256' }),
      'hosts[0].address',
    ],
    [
      'a name that is no host name',
      (raw: typeof EXAMPLE) => Object.assign(raw.hosts[1]!, { name: 'LB 2' }),
      'hosts[1].name',
    ],
    [
      'a duplicate name',
      (raw: typeof EXAMPLE) => Object.assign(raw.hosts[3]!, { name: 'server-1' }),
      'hosts[3].name',
    ],
    [
      'a duplicate address',
      (raw: typeof EXAMPLE) => Object.assign(raw.hosts[5]!, { address: '198.18.10.31' }),
      'hosts[5].address',
    ],
    [
      'an unknown role',
      (raw: typeof EXAMPLE) => Object.assign(raw.hosts[7]!, { roles: ['grafana'] }),
      'hosts[7].roles[0]',
    ],
    [
      'a role twice',
      (raw: typeof EXAMPLE) => Object.assign(raw.hosts[0]!, { roles: ['lb', 'lb'] }),
      'hosts[0].roles',
    ],
    ['a server without its block', (raw: typeof EXAMPLE) => delete raw.hosts[2]!.server, 'hosts[2].server'],
    [
      'a db block on a host that is no db',
      (raw: typeof EXAMPLE) => Object.assign(raw.hosts[0]!, { db: { role: 'replica', serverId: 9 } }),
      'hosts[0].db',
    ],
    [
      'a relative app command',
      (raw: typeof EXAMPLE) =>
        Object.assign(raw.hosts[2]!.server as object, { command: ['node', 'main.js'] }),
      'hosts[2].server.command[0]',
    ],
    [
      'a quote in a command word',
      (raw: typeof EXAMPLE) =>
        Object.assign(raw.hosts[2]!.server as object, { command: ['/usr/bin/node', 'a"b'] }),
      'hosts[2].server.command[1]',
    ],
    [
      'a port out of range',
      (raw: typeof EXAMPLE) => Object.assign(raw.hosts[3]!.server as object, { appPort: 70000 }),
      'hosts[3].server.appPort',
    ],
    [
      'an unknown db role',
      (raw: typeof EXAMPLE) => Object.assign(raw.hosts[5]!.db as object, { role: 'leader' }),
      'hosts[5].db.role',
    ],
    [
      'two primaries',
      (raw: typeof EXAMPLE) => Object.assign(raw.hosts[5]!.db as object, { role: 'primary' }),
      'hosts[5].db.role',
    ],
    [
      'a duplicate server id',
      (raw: typeof EXAMPLE) => Object.assign(raw.hosts[6]!.db as object, { serverId: 1 }),
      'hosts[6].db.serverId',
    ],
    [
      'no primary',
      (raw: typeof EXAMPLE) => Object.assign(raw.hosts[4]!.db as object, { role: 'replica' }),
      'hosts',
    ],
    ['no db host', (raw: typeof EXAMPLE) => raw.hosts.splice(4, 3), 'hosts'],
    [
      'an LB pair without a floating address',
      (raw: typeof EXAMPLE) => delete (raw.lb as Record<string, unknown>).floatingAddress,
      'lb.floatingAddress',
    ],
    [
      'a floating address a host already has',
      (raw: typeof EXAMPLE) => Object.assign(raw.lb as object, { floatingAddress: '198.18.10.11' }),
      'lb.floatingAddress',
    ],
    [
      'three LBs',
      (raw: typeof EXAMPLE) => raw.hosts.push({ name: 'lb-3', address: '198.18.10.13', roles: ['lb'] }),
      'hosts',
    ],
    ['an LB host without the lb block', (raw: typeof EXAMPLE) => delete raw.lb, 'lb'],
    [
      'an LB certificate that is no absolute path',
      (raw: typeof EXAMPLE) => Object.assign(raw.lb as object, { certificate: 'rwsplit.pem' }),
      'lb.certificate',
    ],
    [
      'monitoring without its webhook',
      (raw: typeof EXAMPLE) => delete (raw.monitoring as Record<string, unknown>).webhookUrl,
      'monitoring.webhookUrl',
    ],
    [
      'a bad admin source',
      (raw: typeof EXAMPLE) => Object.assign(raw.cluster, { adminSources: ['198.18.0.0/33'] }),
      'cluster.adminSources[0]',
    ],
    [
      'no admin source',
      (raw: typeof EXAMPLE) => Object.assign(raw.cluster, { adminSources: [] }),
      'cluster.adminSources',
    ],
    [
      'a public name with a path',
      (raw: typeof EXAMPLE) => Object.assign(raw.cluster, { publicName: 'rwsplit.example.com/x' }),
      'cluster.publicName',
    ],
    [
      'an unknown flavour',
      (raw: typeof EXAMPLE) => Object.assign(raw.cluster, { flavor: 'postgres' }),
      'cluster.flavor',
    ],
    [
      'an account name with a quote',
      (raw: typeof EXAMPLE) => Object.assign(raw.cluster, { accounts: { app: "a'b" } }),
      'cluster.accounts.app',
    ],
    [
      'a path with a space',
      (raw: typeof EXAMPLE) => Object.assign(raw, { paths: { datadir: '/var/lib/my sql' } }),
      'paths.datadir',
    ],
    [
      'an active-passive LB with one server',
      (raw: typeof EXAMPLE) => {
        Object.assign(raw.lb as object, { mode: 'active-passive' });
        raw.hosts.splice(3, 1);
      },
      'lb.mode',
    ],
    [
      'an LB of a pair that is also the monitoring host',
      (raw: typeof EXAMPLE) => {
        raw.hosts.pop();
        Object.assign(raw.hosts[1]!, { roles: ['lb', 'monitoring'] });
      },
      'hosts[1].roles',
    ],
  ])('names the field of %s', (_what, edit, field) => {
    expect(failure(inventory(edit)).field).toBe(field);
  });

  it('names a port two roles of one host both want', () => {
    const error = failure(
      inventory((raw) => {
        raw.hosts.pop();
        Object.assign(raw.hosts[4]!, { roles: ['db', 'monitoring'] });
        Object.assign(raw.hosts[4]!.db as object, { exporterPort: 9090 });
      }),
    );
    expect(error.field).toBe('hosts[4]');
    expect(error.message).toContain(
      'monitoring.prometheusPort and db.exporterPort both want port 9090 on db-1',
    );
  });

  it('has no place for a secret: a password anywhere is an unknown setting', () => {
    expect(
      failure(inventory((raw) => Object.assign(raw.cluster, { accounts: { appPassword: 'x' } }))).field,
    ).toBe('cluster.accounts.appPassword');
    expect(failure(inventory((raw) => Object.assign(raw, { passwords: {} }))).field).toBe('passwords');
    expect(failure(inventory((raw) => Object.assign(raw.lb as object, { statsPassword: 'x' }))).field).toBe(
      'lb.statsPassword',
    );
  });

  it('turns failover off without a replica, and refuses settings for managers that would not run', () => {
    const single = inventory((raw) => {
      raw.hosts.splice(5, 2);
      delete raw.failover;
    });
    expect(resolveInventory(single).failover).toBeUndefined();
    expect(resolveInventory(single).cluster.semiSync).toBeUndefined();
    expect(failure(inventory((raw) => raw.hosts.splice(5, 2))).field).toBe('failover');
  });

  it('accepts one LB without keepalived settings', () => {
    const one = inventory((raw) => {
      raw.hosts.splice(1, 1);
      raw.lb = { certificate: '/etc/haproxy/tls/rwsplit.pem' };
    });
    expect(resolveInventory(one).lb).toMatchObject({ floatingAddress: undefined, httpsPort: 443 });
  });
});
