// The whole stack on the netns host model: every host its own namespace with its own firewall, the LB
// pair holding the floating address. From outside only the floating address (and the monitoring UIs)
// answer; the real services' ports are scanned from outside and from every host; the active LB dies
// under a mixed load of reads and cookie-carrying writes and nothing acknowledged is lost or doubled.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { type Cluster, startCluster } from '@rwsplit/cluster';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NetnsHostModel } from '../../packages/cluster/src/netns/netns-host-model.js';
import {
  type PortState,
  type ScanTarget,
  scanFrom,
  scanFromHere,
} from '../../packages/cluster/src/netns/scan.js';
import { CookieJar, LbClient } from '../e2e/support/client.js';
import { NOTES_APP } from '../support/notes-app.js';

const asRoot = process.platform === 'linux' && process.getuid?.() === 0;

let cluster: Cluster;
let lab: NetnsHostModel['lab'];

beforeAll(async () => {
  if (!asRoot) return;
  cluster = await startCluster({ hosts: 'netns', servers: 2, replicas: 1, app: NOTES_APP });
  lab = (cluster.hostModel as NetnsHostModel).lab;
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
}, 120_000);

function namespacesOf(prefix: string): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name.startsWith(prefix));
}

/** The real services' ports, by host name: what each one's processes listen on. */
function services(): (ScanTarget & { name: string; service: string })[] {
  const e = cluster.endpoints();
  const port = (url: string) => Number(new URL(url).port);
  const on = (name: string, service: string, host: string, p: number) => ({ name, service, host, port: p });
  const targets = [
    on('floating', 'https', cluster.lb.host, port(cluster.lb.httpsUrl)),
    on('floating', 'http', cluster.lb.host, port(cluster.lb.httpUrl)),
  ];
  for (const lb of cluster.lbHosts) targets.push(on(lb.name, 'stats', lb.host, port(lb.statsUrl)));
  for (const server of e.servers) {
    const host = new URL(server.app).hostname;
    targets.push(
      on(server.name, 'nginx', host, port(server.nginx)),
      on(server.name, 'app', host, port(server.app)),
    );
  }
  for (const manager of cluster.failover) {
    targets.push(
      on(`server-${manager.id.slice(-1)}`, 'manager', new URL(manager.url).hostname, port(manager.url)),
    );
  }
  for (const node of e.db) {
    targets.push(on(node.name, 'mysql', node.host, node.port));
    // The exporter beside each node: a fresh namespace gives it its preferred port.
    targets.push(on(node.name, 'exporter', node.host, 9104));
  }
  for (const server of e.servers)
    targets.push(on(server.name, 'exporter', new URL(server.app).hostname, 9113));
  for (const lb of cluster.lbHosts) targets.push(on(lb.name, 'exporter', lb.host, 9100));
  const monitoring = e.monitoring;
  if (monitoring !== null) {
    const host = new URL(monitoring.prometheusUrl).hostname;
    targets.push(
      on('monitoring', 'prometheus', host, port(monitoring.prometheusUrl)),
      on('monitoring', 'alertmanager', host, port(monitoring.alertmanagerUrl)),
    );
  }
  return targets;
}

/**
 * The matrix, by hand: who may open each service. A host reaches its own services (over lo); the
 * floating address is on one LB host's interface, which reaches it that way too.
 */
function allowed(source: string, target: { name: string; service: string }): boolean {
  const isServer = source.startsWith('server-');
  const isDb = source.startsWith('db-');
  const isLb = source.startsWith('lb-');
  if (target.name === 'floating') return true;
  if (source === target.name) return true;
  switch (target.service) {
    case 'stats':
    case 'exporter':
      return source === 'monitoring';
    case 'nginx':
      return isLb;
    case 'app':
      return source === 'monitoring';
    case 'manager':
      return isServer || source === 'monitoring';
    case 'mysql':
      return isServer || isDb;
    case 'prometheus':
      return source === 'outside';
    case 'alertmanager':
      return source === 'outside' || isServer;
    default:
      return false;
  }
}

describe.skipIf(!asRoot)('the stack on netns hosts', () => {
  it('serves the notes app through the floating address, reads its own writes across servers', async () => {
    expect(cluster.hostModel.kind).toBe('netns');
    expect(cluster.lb.host).toMatch(/^198\.1[89]\.\d+\.10$/);
    const client = LbClient.forCluster(cluster, { jar: new CookieJar() });
    const created = await client.post('/api/notes', { title: 'written through the floating address' });
    expect(created.status).toBe(201);
    const { id } = created.json<{ id: number }>();
    const servedBy = new Set<string | undefined>();
    for (let i = 0; i < 6; i++) {
      const read = await client.get(`/api/notes/${id}`);
      expect(read.status).toBe(200);
      servedBy.add(read.servedBy);
    }
    expect(servedBy).toEqual(new Set(['server-1', 'server-2']));
  });

  it('lets outside and every host reach exactly the services the matrix allows (the real ones, scanned)', async () => {
    const targets = services();
    const views = new Map<string, PortState[]>();
    views.set('outside', await scanFromHere(targets, 500));
    for (const host of lab.hosts) views.set(host.name, await scanFrom(lab, host.name, targets, 500));
    const header = ['from \\ to', ...targets.map((t) => `${t.name}:${t.service}`)];
    const rows = [...views].map(([source, states]) => [
      source,
      ...states.map((s) => (s === 'open' ? 'open' : '·')),
    ]);
    const width = header.map((_, i) => Math.max(...[header, ...rows].map((row) => (row[i] ?? '').length)));
    console.log(
      `netns stack firewall matrix (open = connects, · = dropped or refused):\n${[header, ...rows]
        .map((row) => row.map((cell, i) => cell.padEnd(width[i] ?? 0)).join(' '))
        .join('\n')}`,
    );
    const wrong: string[] = [];
    for (const [source, states] of views) {
      states.forEach((state, index) => {
        const target = targets[index];
        if (target === undefined) return;
        const open = state === 'open';
        if (open !== allowed(source, target))
          wrong.push(`${source} → ${target.name}:${target.service}: ${state}`);
      });
    }
    expect(wrong).toEqual([]);
  }, 60_000);

  it('survives a SIGKILL of the active LB under reads and writes: the other takes the address, nothing acknowledged is lost or doubled', async () => {
    const active = await cluster.activeLbHost();
    const writer = LbClient.forCluster(cluster, { jar: new CookieJar(), timeoutMs: 5_000 });
    const reader = LbClient.forCluster(cluster, { timeoutMs: 5_000 });
    const acknowledged: string[] = [];
    const attempted: string[] = [];
    let failedWrites = 0;
    let failedReads = 0;
    let reads = 0;
    let gapStart: number | undefined;
    let longestGap = 0;
    const answered = () => {
      const now = performance.now();
      if (gapStart !== undefined) longestGap = Math.max(longestGap, now - gapStart);
      gapStart = undefined;
    };
    const failed = () => {
      gapStart ??= performance.now();
    };
    const run = `lb-kill-${Date.now()}`;
    const end = performance.now() + 6_000;
    const writes = (async () => {
      for (let i = 0; performance.now() < end; i++) {
        const title = `${run} ${i}`;
        attempted.push(title);
        const reply = await writer.post('/api/notes', { title }).catch(() => undefined);
        if (reply?.status === 201) {
          acknowledged.push(title);
          answered();
        } else {
          failedWrites++;
          failed();
        }
      }
    })();
    const readLoop = (async () => {
      while (performance.now() < end) {
        reads++;
        const reply = await reader.get('/api/notes?limit=1').catch(() => undefined);
        if (reply?.status === 200) answered();
        else {
          failedReads++;
          failed();
        }
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await active.haproxy.kill();
    await Promise.all([writes, readLoop]);
    const now = await cluster.activeLbHost();
    expect(now.name).not.toBe(active.name);

    const rows = (await cluster
      .primary()
      .query(
        `SELECT title, COUNT(*) AS n FROM ${cluster.credentials.app.database}.notes WHERE title LIKE ? GROUP BY title`,
        [`${run} %`],
      )) as unknown as { title: string; n: number }[];
    const stored = new Map(rows.map((row) => [row.title, Number(row.n)]));
    const lost = acknowledged.filter((title) => !stored.has(title));
    const doubled = [...stored].filter(([, n]) => n > 1).map(([title]) => title);
    console.log(
      `netns LB pair, haproxy SIGKILL on ${active.name} → ${now.name}: ${acknowledged.length} writes acknowledged of ${attempted.length}, ${failedWrites} failed, ${reads} reads, ${failedReads} failed; longest time without an answer ${Math.round(longestGap)} ms; lost ${lost.length}, doubled ${doubled.length}`,
    );
    expect(lost).toEqual([]);
    expect(doubled).toEqual([]);
    expect(acknowledged.length).toBeGreaterThan(10);

    // And it pages: the address moved (from the LB that lost it), that LB is down; then it resolves.
    const { receiver } = cluster.monitoring;
    const alert =
      (alertname: string, status: string) =>
      (n: { alertname: string; status: string; labels: Record<string, string> }) =>
        n.alertname === alertname && n.status === status && n.labels.instance === active.name;
    const moved = await receiver.waitFor(alert('RwsplitFloatingAddressMoved', 'firing'), {
      what: 'RwsplitFloatingAddressMoved',
      timeoutMs: 20_000,
    });
    await receiver.waitFor(alert('RwsplitLoadBalancerDown', 'firing'), {
      what: 'RwsplitLoadBalancerDown',
      timeoutMs: 20_000,
    });
    await active.haproxy.restart();
    await active.keepalived.restart();
    await receiver.waitFor(alert('RwsplitLoadBalancerDown', 'resolved'), {
      what: 'RwsplitLoadBalancerDown resolved',
      timeoutMs: 20_000,
    });
    console.log(`netns LB pair alert: "${moved.annotations.summary}"`);
    // The hand-over left exactly one holder at every scrape that counted (for: 2 s).
    expect(
      receiver.notifications().filter((n) => n.alertname === 'RwsplitFloatingAddressNotHeldOnce'),
    ).toEqual([]);
  }, 90_000);
});

describe.skipIf(!asRoot)('netns cleanup', () => {
  it('removes every namespace, veth and the bridge when the cluster stops', async () => {
    const prefix = lab.block.namespacePrefix;
    expect(namespacesOf(prefix).length).toBeGreaterThanOrEqual(6);
    await cluster.stop();
    expect(namespacesOf(prefix)).toEqual([]);
    expect(execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })).not.toContain(
      `${lab.block.bridge}:`,
    );
  }, 60_000);

  it('removes them when a start fails, too', async () => {
    const before = namespacesOf('rwsplit-');
    const error = await startCluster({
      hosts: 'netns',
      servers: 1,
      replicas: 0,
      monitoring: false,
      app: { command: [process.execPath, '-e', 'process.exit(3)'] },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(String(error)).toContain('server-1 app exited');
    expect(namespacesOf('rwsplit-')).toEqual(before);
    // A failed start keeps its state for a post-mortem; this one has been looked at.
    const kept = /state kept in (\S+)/.exec(String(error))?.[1];
    if (kept !== undefined) rmSync(kept, { recursive: true, force: true });
  }, 60_000);
});
