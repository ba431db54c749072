// The network faults of the netns lab, each injected and undone for real between namespaces: partitions,
// one-way loss, a dead link and added latency (a delaying relay steered by nftables: there is no netem).
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetnsLab } from '../../packages/cluster/src/netns/lab.js';
import {
  addLatency,
  dropOneWay,
  linkDown,
  partition,
} from '../../packages/cluster/src/netns/network-faults.js';
import { type PortState, scanFrom, scanFromHere } from '../../packages/cluster/src/netns/scan.js';

const asRoot = process.platform === 'linux' && process.getuid?.() === 0;
const PORT = 7000;
const NAMES = ['a', 'b', 'c'];

// An echo server on the host's address.
const ECHO = `
const net = require('node:net');
net.createServer((s) => s.on('error', () => {}).pipe(s)).listen(${PORT}, process.argv[1], () => console.log('listening'));
process.stdin.on('end', () => process.exit(0)).resume();
`;

// From inside a host: one connection to host:port, a byte every 50 ms for `forMs`, and when each echo came
// back (ms since start); `faultAtMs` is when the caller will inject its fault. Prints JSON.
const PINGER = `
const net = require('node:net');
const [host, port, forMs] = JSON.parse(process.argv[1]);
const start = Date.now();
const echoes = [];
const socket = net.connect(port, host);
socket.on('data', (chunk) => { for (let i = 0; i < chunk.length; i++) echoes.push(Date.now() - start); });
socket.on('error', () => {});
const timer = setInterval(() => socket.write('x'), 50);
setTimeout(() => { clearInterval(timer); socket.destroy(); process.stdout.write(JSON.stringify(echoes)); }, forMs);
`;

// From inside a host: the round trip of one byte on a fresh connection, in ms (-1 if none within 5 s).
const ROUND_TRIP = `
const net = require('node:net');
const [host, port] = JSON.parse(process.argv[1]);
const start = Date.now();
const socket = net.connect(port, host, () => socket.write('x'));
socket.once('data', () => { process.stdout.write(String(Date.now() - start)); socket.destroy(); });
socket.on('error', () => { process.stdout.write('-1'); });
setTimeout(() => { process.stdout.write('-1'); process.exit(0); }, 5000).unref();
`;

let lab: NetnsLab;
const echoes: ChildProcess[] = [];

beforeAll(async () => {
  if (!asRoot) return;
  lab = await NetnsLab.create(NAMES.map((name, index) => ({ name, octets: [2 + index] })));
  for (const name of NAMES) {
    const line = lab.commandOn(name, process.execPath, ['-e', ECHO, lab.host(name).address]);
    const child = spawn(line.command, line.args, { stdio: ['pipe', 'pipe', 'inherit'] });
    echoes.push(child);
    await once(child.stdout as NodeJS.ReadableStream, 'data');
  }
}, 60_000);

afterAll(async () => {
  for (const child of echoes) {
    child.stdin?.end();
    if (child.exitCode === null) await once(child, 'exit');
  }
  await lab?.destroy();
}, 30_000);

/** From `source` (a host, or 'outside') to each of `targets` on the echo port. */
async function reach(source: string, targets: readonly string[]): Promise<Record<string, PortState>> {
  const list = targets.map((name) => ({ host: lab.host(name).address, port: PORT }));
  const states =
    source === 'outside' ? await scanFromHere(list, 400) : await scanFrom(lab, source, list, 400);
  return Object.fromEntries(targets.map((name, index) => [name, states[index] ?? 'dropped']));
}

async function roundTrip(from: string, to: string): Promise<number> {
  return Number(
    await lab.run(from, process.execPath, ['-e', ROUND_TRIP, JSON.stringify([lab.host(to).address, PORT])]),
  );
}

describe.skipIf(!asRoot)('network faults in the netns lab', () => {
  it('partitions a from b both ways, established connections included, and heals on undo', async () => {
    expect(await reach('a', ['b', 'c'])).toEqual({ b: 'open', c: 'open' });
    // A connection a → b that is already open when the partition starts: its echoes stop.
    const pinging = lab.run('a', process.execPath, [
      '-e',
      PINGER,
      JSON.stringify([lab.host('b').address, PORT, 1_500]),
    ]);
    await new Promise((resolve) => setTimeout(resolve, 600));
    const cut = await partition(lab, ['a'], ['b']);
    const cutAt = 600;
    try {
      const times = JSON.parse(await pinging) as number[];
      expect(times.filter((t) => t < cutAt).length, 'echoes before the partition').toBeGreaterThan(5);
      // Echoes still in flight when the rules went in may arrive a moment later; none after that.
      expect(times.filter((t) => t > cutAt + 300)).toEqual([]);
      expect(await reach('a', ['b', 'c'])).toEqual({ b: 'dropped', c: 'open' });
      expect(await reach('b', ['a', 'c'])).toEqual({ a: 'dropped', c: 'open' });
      expect(await reach('c', ['a', 'b'])).toEqual({ a: 'open', b: 'open' });
    } finally {
      await cut.undo();
    }
    expect(await reach('a', ['b'])).toEqual({ b: 'open' });
    expect(await reach('b', ['a'])).toEqual({ a: 'open' });
  }, 30_000);

  it('loses only what a sends to b, one way; c and outside are untouched', async () => {
    const loss = await dropOneWay(lab, ['a'], ['b']);
    try {
      expect(await reach('a', ['b', 'c'])).toEqual({ b: 'dropped', c: 'open' });
      // b's packets reach a; a's answers are what is lost, so b's connection cannot complete either.
      expect(await reach('b', ['a', 'c'])).toEqual({ a: 'dropped', c: 'open' });
      expect(await reach('outside', ['a', 'b'])).toEqual({ a: 'open', b: 'open' });
      const rules = await lab.run('b', 'nft', ['list', 'table', 'inet', 'rwsplit_faults']);
      expect(rules).toContain(`ip saddr ${lab.host('a').address} drop`);
      expect(await lab.run('a', 'nft', ['list', 'ruleset'])).not.toContain('drop');
    } finally {
      await loss.undo();
    }
    expect(await reach('a', ['b'])).toEqual({ b: 'open' });
  }, 30_000);

  it('takes a host link down: nobody reaches it, it reaches nobody; undo brings it back', async () => {
    const down = await linkDown(lab, 'c');
    try {
      expect(await reach('outside', ['a', 'c'])).toEqual({ a: 'open', c: 'dropped' });
      expect(await reach('a', ['c'])).toEqual({ c: 'dropped' });
      expect(await reach('c', ['a', 'b'])).toEqual({ a: 'dropped', b: 'dropped' });
    } finally {
      await down.undo();
    }
    // The bridge port takes a moment to forward again after the link comes up.
    let back: Record<string, PortState> = {};
    for (let attempt = 0; attempt < 20 && back.c !== 'open'; attempt++) back = await reach('outside', ['c']);
    expect(back).toEqual({ c: 'open' });
  }, 30_000);

  it('adds latency from a to b:port, each way, and only there; undo takes it away', async () => {
    const before = await roundTrip('a', 'b');
    expect(before).toBeGreaterThanOrEqual(0);
    expect(before).toBeLessThan(100);
    // A connection opened before the fault is reset at its next packet (a pooled one would otherwise never
    // see the delay); its client reconnects, through the relay.
    const pinging = lab.run('a', process.execPath, [
      '-e',
      PINGER,
      JSON.stringify([lab.host('b').address, PORT, 1_200]),
    ]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const slow = await addLatency(lab, 'a', 'b', PORT, 200);
    try {
      const times = JSON.parse(await pinging) as number[];
      expect(times.filter((t) => t < 500).length, 'echoes before the fault').toBeGreaterThan(3);
      expect(
        times.filter((t) => t > 800),
        'echoes on the old connection after the fault',
      ).toEqual([]);
      const rtt = await roundTrip('a', 'b');
      console.log(`latency fault: a → b round trip ${before} ms before, ${rtt} ms with 200 ms each way`);
      // The byte waits 200 ms each way; the connect itself is to the relay, on the host.
      expect(rtt).toBeGreaterThanOrEqual(400);
      expect(rtt).toBeLessThan(1_500);
      // Only a's connections to that port: c → b is as fast as ever.
      expect(await roundTrip('c', 'b')).toBeLessThan(100);
    } finally {
      await slow.undo();
    }
    expect(await roundTrip('a', 'b')).toBeLessThan(100);
    // Undone means gone: no steering rule left in a's namespace.
    expect(await lab.run('a', 'nft', ['list', 'ruleset'])).not.toContain('dnat');
  }, 30_000);
});
