// What a user deploys, started as a user would: an inventory (hosts.json) for six lab hosts goes through
// `renderHosts`, each host's namespace gets its own filesystem holding exactly that rendering, loads its
// rendered nftables.conf and sysctl.d, and runs its services from their rendered units' Exec lines. Then the
// design's promises are checked on it from outside: HTTPS through the floating address alternating the two
// servers, a write read back through the other server, the DB port shut to everyone but its clients, the
// floating address moving when the active LB's HAProxy dies, a frozen replica costing no request (the
// shared check of the native and docker suites), and the rendered failover managers promoting the replica
// when the primary's server is killed.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FAILOVER_CLI } from '@rwsplit/failover';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NetnsLab } from '../../packages/cluster/src/netns/lab.js';
import { RenderedLab, renderedContent } from '../../packages/cluster/src/netns/rendered-lab.js';
import { scanFrom } from '../../packages/cluster/src/netns/scan.js';
import { systemUser } from '../../packages/cluster/src/service-user.js';
import { CookieJar, collectServedBy, LbClient } from '../e2e/support/client.js';
import { expectStallServed } from '../e2e/support/stalled-replica.js';

const asRoot = process.platform === 'linux' && process.getuid?.() === 0;
const APP_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../examples/notes-app');
const FLOATING = 10;
const REPO = join(dirname(fileURLToPath(import.meta.url)), '../..');
/** tsx's loader by path: the managers' unit has no working directory to resolve `tsx` from. */
const TSX = join(REPO, 'node_modules/tsx/dist/loader.mjs');

const HOSTS = [
  { name: 'lb-1', octets: [11] },
  { name: 'lb-2', octets: [12] },
  { name: 'server-1', octets: [21] },
  { name: 'server-2', octets: [22] },
  { name: 'db-1', octets: [31] },
  { name: 'db-2', octets: [32] },
  { name: 'monitoring', octets: [41] },
];

/** The inventory a user would write for these hosts (the example's shape, without failover or monitoring). */
function inventoryFor(lab: NetnsLab): unknown {
  const at = (octet: number) => `${lab.block.prefix}.${octet}`;
  const server = (name: string, octet: number) => ({
    name,
    address: at(octet),
    roles: ['server'],
    server: {
      appPort: 3000,
      command: [process.execPath, '--conditions=source', '--import', 'tsx', 'src/main.ts'],
      workingDirectory: APP_DIR,
      staticDir: join(APP_DIR, 'public'),
      internalPaths: ['/metrics', '/internal/status', '/internal/alerts'],
      // Keeps a replica 2 s behind in rotation (the default limit is 1 s), for the read-your-writes check.
      env: { DB_LAG_MAX_MS: '10000' },
    },
  });
  return {
    cluster: {
      publicName: 'rwsplit.lab.test',
      flavor: 'mariadb',
      database: 'notes',
      adminSources: [`${lab.outside}/32`],
    },
    // The managers' program from this checkout (a real host has the package's `rwsplit-failover`), with
    // the drills' faster timings.
    failover: {
      command: [process.execPath, '--conditions=source', '--import', TSX, FAILOVER_CLI],
      node: process.execPath,
      intervalMs: 250,
      failAfter: 3,
      cooldownMs: 5_000,
    },
    lb: {
      certificate: '/etc/haproxy/tls/rwsplit.pem',
      floatingAddress: at(FLOATING),
      prefixLength: 24,
      interface: 'eth0',
      virtualRouterId: 51,
    },
    hosts: [
      { name: 'lb-1', address: at(11), roles: ['lb'] },
      { name: 'lb-2', address: at(12), roles: ['lb'] },
      server('server-1', 21),
      server('server-2', 22),
      { name: 'db-1', address: at(31), roles: ['db'], db: { role: 'primary', serverId: 1 } },
      { name: 'db-2', address: at(32), roles: ['db'], db: { role: 'replica', serverId: 2 } },
      { name: 'monitoring', address: at(41), roles: ['monitoring'] },
    ],
    monitoring: { webhookUrl: `http://${lab.outside}:9/rwsplit-alerts`, scrapeInterval: '1s' },
  };
}

let lab: RenderedLab;
let client: LbClient;

/** The start, kept so that the teardown waits for one that outlived beforeAll's timeout, then stops it. */
let starting: Promise<RenderedLab> | undefined;

beforeAll(async () => {
  if (!asRoot) return;
  starting = RenderedLab.start(HOSTS, inventoryFor);
  lab = await starting;
  client = new LbClient(`https://${lab.lab.block.prefix}.${FLOATING}`, { ca: lab.ca.certificatePem });
}, 300_000);

afterAll(async () => {
  // A start that failed has torn itself down; one still running is waited for.
  const started = await starting?.catch(() => undefined);
  await started?.stop();
}, 400_000);

describe.skipIf(!asRoot)('hosts started from their rendering', () => {
  it('runs the rendered files themselves: each host sees its own haproxy.cfg, nginx.conf, my.cnf and ruleset', async () => {
    for (const [host, path] of [
      ['lb-1', '/etc/haproxy/haproxy.cfg'],
      ['lb-2', '/etc/keepalived/keepalived.conf'],
      ['server-1', '/etc/nginx/nginx.conf'],
      ['db-2', '/etc/mysql/my.cnf'],
    ] as const) {
      expect(await lab.host(host).root.run('/usr/bin/cat', [path])).toBe(renderedContent(lab, host, path));
    }
    // The loaded ruleset is the rendered one: default drop, the DB port open to its clients alone.
    const ruleset = await lab.host('db-1').root.run('/usr/sbin/nft', ['list', 'table', 'inet', 'rwsplit']);
    expect(ruleset).toContain('policy drop');
    expect(ruleset).toMatch(/tcp dport 3306 accept/);
    // Every unit the rendering has runs, on every host: 22 services from 7 hosts' files.
    const units = lab.inventory.hosts.flatMap((host) =>
      [...lab.host(host.name).units.entries()].map(([name, unit]) => ({
        host: host.name,
        name,
        running: unit.running,
      })),
    );
    expect(units.filter((unit) => !unit.running)).toEqual([]);
    expect(units.length).toBe(22);
    // Each service runs as its unit's user: the app as a dynamic one, HAProxy as haproxy, never root.
    const uid = (host: string, unit: string) =>
      /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${lab.unit(host, unit).pid}/status`, 'utf8'))?.[1];
    expect(Number(uid('server-1', 'rwsplit-app.service'))).toBeGreaterThanOrEqual(61184);
    expect(uid('lb-1', 'haproxy.service')).toBe(String(systemUser('haproxy')?.uid));
    expect(uid('db-1', 'mariadb.service')).toBe(String(systemUser('mysql')?.uid));
  });

  it('alternates the two servers over HTTPS through the floating address', async () => {
    const served = await collectServedBy(client, '/api/notes', 20);
    expect(Object.fromEntries(served)).toEqual({ 'server-1': 10, 'server-2': 10 });
  });

  it('reads a write back through the other server with the cookie while db-2 runs 2 s behind; without it, stale', async () => {
    // db-2 held 2 s behind (and kept in rotation: the servers' DB_LAG_MAX_MS), so only the token protects.
    await lab.sql('db-2', 'STOP SLAVE; CHANGE MASTER TO MASTER_DELAY = 2; START SLAVE;');
    try {
      const pairs = async (jar: CookieJar | undefined, count: number) => {
        const user = client.withJar(jar);
        let stale = 0;
        for (let i = 0; i < count; i++) {
          const written = await user.post('/api/notes', { title: `pair ${i}` });
          expect(written.status, written.body).toBe(201);
          const { id } = written.json<{ id: number }>();
          for (let tries = 0; tries < 10; tries++) {
            const read = await user.get(`/api/notes/${id}`);
            expect([200, 404], read.body).toContain(read.status);
            if (read.status === 404) stale++;
            if (read.servedBy !== written.servedBy) break;
          }
        }
        return stale;
      };
      // The control first: the same check fails without the cookie (the replica lacks the write).
      await expect.poll(() => pairs(undefined, 3), { timeout: 20_000 }).toBeGreaterThan(0);
      expect(await pairs(new CookieJar(), 10)).toBe(0);
    } finally {
      await lab.sql('db-2', 'STOP SLAVE; CHANGE MASTER TO MASTER_DELAY = 0; START SLAVE;');
    }
    await expect
      .poll(
        async () => (await lab.sql('db-2', "SELECT COUNT(*) FROM notes.notes WHERE title = 'pair 9'")).trim(),
        {
          timeout: 15_000,
        },
      )
      .toBe('1');
  });

  it("shuts the database port to a host that is not its client: the LB's connect is dropped", async () => {
    const db = [{ host: lab.inventory.hosts.find((host) => host.name === 'db-1')!.address, port: 3306 }];
    expect(await scanFrom(lab.lab, 'lb-1', db)).toEqual(['dropped']);
    expect(await scanFrom(lab.lab, 'server-1', db)).toEqual(['open']);
  });

  it('has Prometheus scraping every rendered target up, and the public HTTPS probe passing', async () => {
    const monitoring = lab.inventory.hosts.find((host) => host.roles.includes('monitoring'))!;
    const auth = `Basic ${Buffer.from(`monitoring:${lab.secrets.monitoring}`).toString('base64')}`;
    const api = async (path: string) => {
      const reply = await fetch(`http://${monitoring.address}:9090${path}`, {
        headers: { authorization: auth },
      });
      expect(reply.status).toBe(200);
      return ((await reply.json()) as { data: unknown }).data;
    };
    let seen = '';
    await expect
      .poll(
        async () => {
          const { activeTargets } = (await api('/api/v1/targets?state=active')) as {
            activeTargets: { labels: { job: string; instance: string }; health: string; lastError: string }[];
          };
          seen = JSON.stringify(
            activeTargets.filter((t) => t.health !== 'up').map((t) => [t.labels, t.lastError]),
          );
          return { jobs: [...new Set(activeTargets.map((t) => t.labels.job))].sort(), down: seen };
        },
        { timeout: 30_000, interval: 500 },
      )
      .toEqual({
        jobs: ['app', 'blackbox', 'failover', 'haproxy', 'lb-vrrp', 'mysqld', 'nginx', 'node', 'prometheus'],
        down: '[]',
      });
    // Without the right password the API refuses: the web config is the rendered one with its hash.
    const refused = await fetch(`http://${monitoring.address}:9090/api/v1/targets`, {
      headers: { authorization: `Basic ${Buffer.from('monitoring:wrong').toString('base64')}` },
    });
    expect(refused.status).toBe(401);
    await expect
      .poll(async () => JSON.stringify(await api('/api/v1/query?query=probe_success')), { timeout: 15_000 })
      .toMatch(/"value":\[[\d.]+,"1"\]/);
  });

  it('answers every GET within 3 s while db-2 is SIGSTOPped: the rendered app config moves reads to db-1', async () => {
    const db2 = lab.unit('db-2', 'mariadb.service');
    await expectStallServed({
      lb: client,
      pause: () => db2.pause(),
      resume: () => db2.resume(),
      // X-DB-Node names the router's node: the notes app calls its DB_PRIMARY node db-primary.
      primary: 'db-primary',
    });
  }, 30_000);

  it('moves the floating address to the other LB when the active HAProxy is killed', async () => {
    const floating = `${lab.lab.block.prefix}.${FLOATING}`;
    const holder = async () => {
      for (const name of ['lb-1', 'lb-2']) {
        const addresses = await lab
          .host(name)
          .root.run('/usr/sbin/ip', ['-o', '-4', 'address', 'show', 'dev', 'eth0']);
        if (addresses.includes(`${floating}/`)) return name;
      }
      return 'none';
    };
    await expect.poll(holder, { timeout: 10_000 }).not.toBe('none');
    const active = await holder();
    const other = active === 'lb-1' ? 'lb-2' : 'lb-1';
    // Only HAProxy dies: keepalived's unit is bound to it (BindsTo=), so it stops too, and its ExecStopPost=
    // drops the address. (systemd would then restart both, Restart=always; with nopreempt the address
    // stays where it went. The runner does not restart.)
    await lab.unit(active, 'haproxy.service').kill();
    await expect.poll(() => lab.unit(active, 'keepalived.service').running, { timeout: 10_000 }).toBe(false);
    await expect.poll(holder, { timeout: 10_000 }).toBe(other);
    await expect.poll(async () => (await client.get('/api/notes')).status, { timeout: 10_000 }).toBe(200);
  });

  it("promotes db-2 when db-1's server is killed: the managers from the rendered units, writes back through the LB", async () => {
    const before = await client.post('/api/notes', { title: 'before the primary dies' });
    expect(before.status, before.body).toBe(201);
    await lab.unit('db-1', 'mariadb.service').kill();
    const killedAt = performance.now();
    let acknowledged: string | undefined;
    await expect
      .poll(
        async () => {
          const reply = await client
            .post('/api/notes', { title: 'after the promotion' })
            .catch(() => undefined);
          if (reply?.status === 201) acknowledged = reply.body;
          return reply?.status;
        },
        { timeout: 30_000, interval: 250 },
      )
      .toBe(201);
    console.log(
      `rendered hosts: first write acknowledged ${Math.round(performance.now() - killedAt)} ms after the kill`,
    );
    expect(acknowledged).toBeDefined();
    expect((await lab.sql('db-2', 'SELECT @@GLOBAL.read_only')).trim()).toBe('0');
    // The write acknowledged before the kill is on the new primary: replication had it.
    expect(
      await lab.sql('db-2', "SELECT COUNT(*) FROM notes.notes WHERE title = 'before the primary dies'"),
    ).toBe('1\n');
  });
});
