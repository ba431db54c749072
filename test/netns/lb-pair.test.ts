// The redundant load balancer for real: two HAProxy hosts in their own namespaces holding one floating
// address with keepalived (VRRP v3, unicast, 100 ms adverts, nopreempt). Under a steady HTTPS request
// stream from outside, the active LB's HAProxy is SIGKILLed, its keepalived is SIGKILLed, and its link
// is taken down; each time the other LB takes the address. Backends are plain HTTP servers on two
// server hosts (the whole stack's version of this is the chaos table's).
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClusterCa, createClusterCa, issueCertificate } from '../../packages/cluster/src/cluster-ca.js';
import { type LbNode, LbPair } from '../../packages/cluster/src/lb-pair.js';
import { LoadBalancer } from '../../packages/cluster/src/load-balancer.js';
import { NetnsHostModel } from '../../packages/cluster/src/netns/netns-host-model.js';
import { linkDown } from '../../packages/cluster/src/netns/network-faults.js';

const asRoot = process.platform === 'linux' && process.getuid?.() === 0;

// A backend: answers every request with its name, /readyz included.
const BACKEND = `
const http = require('node:http');
const [host, name] = process.argv.slice(1);
http.createServer((req, res) => res.end(JSON.stringify({ server: name })))
  .listen(8080, host, () => console.log('listening'));
process.stdin.on('end', () => process.exit(0)).resume();
`;

let model: NetnsHostModel;
let dir: string;
let ca: ClusterCa;
let pair: LbPair;
let floating: string;
const backends: ChildProcess[] = [];

beforeAll(async () => {
  if (!asRoot) return;
  model = await NetnsHostModel.allocate([
    { name: 'lb-1', octets: [7] },
    { name: 'lb-2', octets: [8] },
    { name: 'server-1', octets: [11] },
    { name: 'server-2', octets: [12] },
  ]);
  floating = model.address(10);
  dir = mkdtempSync(join(tmpdir(), 'rwsplit-lb-pair-'));
  ca = await createClusterCa(dir, 'lb pair test');
  const certificate = await issueCertificate(ca, dir, 'lb', 'rwsplit-lb', [
    floating,
    model.address(7),
    model.address(8),
  ]);
  for (const [index, name] of ['server-1', 'server-2'].entries()) {
    const host = model.address(11 + index);
    const line = model.access(host).launch(process.execPath, ['-e', BACKEND, host, name]);
    const child = spawn(line.command, line.args, { stdio: ['pipe', 'pipe', 'inherit'] });
    backends.push(child);
    await once(child.stdout as NodeJS.ReadableStream, 'data');
  }
  const members = ['lb-1', 'lb-2'].map((name, index) => {
    const host = model.address(7 + index);
    const lbDir = join(dir, name);
    mkdirSync(lbDir);
    const access = model.access(host);
    const haproxy = new LoadBalancer({
      dir: lbDir,
      host: floating,
      internalHost: host,
      publicName: floating,
      httpPort: 8080,
      httpsPort: 8443,
      statsPort: 8404,
      balance: 'roundrobin',
      mode: 'active-active',
      backends: [
        { name: 'server-1', host: model.address(11), port: 8080 },
        { name: 'server-2', host: model.address(12), port: 8080 },
      ],
      certificate,
      caPem: ca.certificatePem,
      stats: { user: 'stats', password: 'stats-password' },
      startTimeoutMs: 20_000,
      access,
      name,
    });
    return { name, host, dir: lbDir, haproxy, access };
  });
  pair = new LbPair(members, floating, 20_000);
  await pair.start();
}, 90_000);

afterAll(async () => {
  await pair?.stop();
  for (const child of backends) {
    child.stdin?.end();
    if (child.exitCode === null) await once(child, 'exit');
  }
  await model?.release();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 30_000);

/** One HTTPS GET of the floating address on a fresh connection: answered with 200 within 2 s or not. */
function get(timeoutMs = 2_000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      { host: floating, port: 8443, path: '/', ca: ca.certificatePem, agent: false, timeout: timeoutMs },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

interface StreamResult {
  readonly requests: number;
  readonly failed: number;
  /**
   * The longest time new requests kept failing: from the start of the first failed one to the start of
   * the first one answered after it.
   */
  readonly longestOutageMs: number;
  /** The longest any answered request took: a SYN lost in the hand-over is resent after TCP's 1 s. */
  readonly slowestAnswerMs: number;
}

/** A request every 20 ms (each on its own, not waiting for the last) for `forMs`, `fault` at `faultAtMs`. */
async function streamThrough(
  fault: () => Promise<unknown>,
  forMs = 3_000,
  faultAtMs = 500,
): Promise<StreamResult> {
  const start = performance.now();
  const sent: Promise<{ at: number; ok: boolean; took: number }>[] = [];
  let injected: Promise<unknown> | undefined;
  while (performance.now() - start < forMs) {
    if (injected === undefined && performance.now() - start >= faultAtMs) injected = fault();
    const at = performance.now();
    sent.push(get().then((ok) => ({ at, ok, took: performance.now() - at })));
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await injected;
  const results = await Promise.all(sent);
  let longest = 0;
  let failingSince: number | undefined;
  for (const result of results) {
    if (!result.ok) failingSince ??= result.at;
    else if (failingSince !== undefined) {
      longest = Math.max(longest, result.at - failingSince);
      failingSince = undefined;
    }
  }
  const answered = results.filter((r) => r.ok).map((r) => r.took);
  return {
    requests: results.length,
    failed: results.filter((r) => !r.ok).length,
    longestOutageMs: Math.round(longest),
    slowestAnswerMs: Math.round(Math.max(...answered)),
  };
}

async function holder(): Promise<LbNode> {
  return pair.waitForHolder(5_000);
}

describe.skipIf(!asRoot)('the LB pair', () => {
  it('starts with exactly one LB holding the floating address, and serves through it', async () => {
    const first = await holder();
    expect(pair.nodes).toContain(first);
    expect(await get()).toBe(true);
  });

  it('moves the address when the active HAProxy is SIGKILLed (its keepalived stops with it), and keeps it there after the restart', async () => {
    const active = await holder();
    const result = await streamThrough(() => active.haproxy.kill());
    const now = await holder();
    console.log(
      `LB pair, haproxy SIGKILL on ${active.name}: ${JSON.stringify(result)}; address now on ${now.name}`,
    );
    expect(now).not.toBe(active);
    // keepalived's defaults (a 1 s health-check script, 1 s adverts) give about 3.5 s; the hand-over, well under 1 s.
    expect(result.longestOutageMs).toBeLessThan(1_000);
    await active.haproxy.restart();
    await active.keepalived.restart();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    // nopreempt: the recovered LB stays the backup.
    expect((await holder()).name).toBe(now.name);
  }, 30_000);

  it('moves the address when the active keepalived is SIGKILLed: its address is taken off, never held twice', async () => {
    const active = await holder();
    const result = await streamThrough(() => active.keepalived.kill());
    const now = await holder();
    console.log(
      `LB pair, keepalived SIGKILL on ${active.name}: ${JSON.stringify(result)}; address now on ${now.name}`,
    );
    expect(now).not.toBe(active);
    expect(await active.holdsAddress()).toBe(false);
    expect(result.longestOutageMs).toBeLessThan(1_000);
    await active.keepalived.restart();
  }, 30_000);

  it('moves the address when the active LB loses its link, and ends with one holder after the link returns', async () => {
    const active = await holder();
    let down: { undo(): Promise<void> } | undefined;
    const result = await streamThrough(async () => {
      down = await linkDown(model.lab, active.name);
    });
    try {
      const others = pair.nodes.filter((node) => node !== active);
      expect(await others[0]?.holdsAddress()).toBe(true);
      console.log(`LB pair, link down on ${active.name}: ${JSON.stringify(result)}`);
      expect(result.longestOutageMs).toBeLessThan(1_000);
    } finally {
      await down?.undo();
    }
    // Back on the link, the two see each other's adverts and one steps down.
    const settled = await pair.waitForHolder(10_000);
    expect(settled).toBeDefined();
    expect(await get()).toBe(true);
  }, 40_000);
});
