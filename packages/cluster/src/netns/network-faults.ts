import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findBinary } from '../binaries.js';
import { ClusterError } from '../errors.js';
import { ManagedProcess, runCommand } from '../managed-process.js';
import { waitFor } from '../wait.js';
import type { NetnsLab } from './lab.js';

/** A fault in force; `undo()` takes it back (idempotent). */
export interface NetworkFault {
  readonly description: string;
  undo(): Promise<void>;
}

/**
 * Faults live in a table of their own in each host's namespace, beside the firewall's, at a priority that
 * runs first: a drop in any base chain is final, so a partition holds whatever the firewall allows, and
 * taking it back leaves the firewall exactly as it was.
 */
const TABLE = 'rwsplit_faults';

/** Runs an nft script on a host (written to the lab's directory: nft reads scripts from a file). */
async function nftOn(lab: NetnsLab, host: string, script: string): Promise<void> {
  const file = join(lab.dir, `fault-${host}-${randomBytes(6).toString('hex')}.nft`);
  writeFileSync(file, script, { mode: 0o600 });
  await lab.run(host, findBinary('nft'), ['-f', file]);
}

/** The fault table with its chains, created if missing (idempotent: `add` keeps what exists). */
function ensureTable(): string {
  return [
    `add table inet ${TABLE}`,
    `add chain inet ${TABLE} input { type filter hook input priority -10; policy accept; }`,
    `add chain inet ${TABLE} output { type filter hook output priority -10; policy accept; }`,
  ].join('\n');
}

/** A rule tagged with the fault's id, so undoing deletes exactly its rules (by handle). */
async function addRules(lab: NetnsLab, host: string, id: string, rules: readonly string[]): Promise<void> {
  const lines = rules.map((rule) => `add rule inet ${TABLE} ${rule} comment "${id}"`);
  await nftOn(lab, host, `${ensureTable()}\n${lines.join('\n')}\n`);
}

async function removeRules(lab: NetnsLab, host: string, id: string): Promise<void> {
  let listing: string;
  try {
    listing = await lab.run(host, findBinary('nft'), ['-a', 'list', 'table', 'inet', TABLE]);
  } catch {
    return; // no fault table: nothing of this fault is left
  }
  let chain = '';
  const deletes: string[] = [];
  for (const line of listing.split('\n')) {
    const named = /^\s*chain (\w+)/.exec(line);
    if (named?.[1] !== undefined) chain = named[1];
    const handle = line.includes(`comment "${id}"`) ? /# handle (\d+)/.exec(line)?.[1] : undefined;
    if (handle !== undefined) deletes.push(`delete rule inet ${TABLE} ${chain} handle ${handle}`);
  }
  if (deletes.length > 0) await nftOn(lab, host, `${deletes.join('\n')}\n`);
}

function addressSet(lab: NetnsLab, hosts: readonly string[]): string {
  const addresses = hosts.flatMap((name) => lab.host(name).addresses);
  return addresses.length === 1 ? (addresses[0] ?? '') : `{ ${addresses.join(', ')} }`;
}

function checkDisjoint(a: readonly string[], b: readonly string[]): void {
  const overlap = a.filter((host) => b.includes(host));
  if (a.length === 0 || b.length === 0 || overlap.length > 0) {
    throw new ClusterError(
      `a partition needs two non-empty, disjoint sets of hosts${overlap.length > 0 ? ` (${overlap.join(', ')} is on both sides)` : ''}`,
      'CLUSTER_INVALID_OPTION',
    );
  }
}

/** A fault built from per-host rule sets, undone by removing exactly those rules. */
async function ruleFault(
  lab: NetnsLab,
  description: string,
  rulesByHost: ReadonlyMap<string, readonly string[]>,
): Promise<NetworkFault> {
  const id = `fault-${randomBytes(6).toString('hex')}`;
  const applied: string[] = [];
  try {
    for (const [host, rules] of rulesByHost) {
      applied.push(host);
      await addRules(lab, host, id, rules);
    }
  } catch (error) {
    for (const host of applied) await removeRules(lab, host, id).catch(() => {});
    throw error;
  }
  let undone: Promise<void> | undefined;
  return {
    description,
    undo() {
      undone ??= (async () => {
        for (const host of rulesByHost.keys()) await removeRules(lab, host, id);
      })();
      return undone;
    },
  };
}

/**
 * Cuts every host of `a` off from every host of `b`, both directions: each side drops what comes from the
 * other, in and out, so neither a new connection nor an established one gets a packet through. Traffic
 * within a side, and with hosts on neither side, is untouched.
 */
export function partition(lab: NetnsLab, a: readonly string[], b: readonly string[]): Promise<NetworkFault> {
  checkDisjoint(a, b);
  const rules = new Map<string, string[]>();
  for (const [side, other] of [
    [a, b],
    [b, a],
  ] as const) {
    const others = addressSet(lab, other);
    for (const host of side)
      rules.set(host, [`input ip saddr ${others} drop`, `output ip daddr ${others} drop`]);
  }
  return ruleFault(lab, `partition ${a.join(',')} | ${b.join(',')}`, rules);
}

/**
 * Loses packets from `from` to `to` only (the other direction flows): `percent` of them, 100 by default.
 * A TCP connection `from` opens then never completes; one `to` opens gets no answers back.
 */
export function dropOneWay(
  lab: NetnsLab,
  from: readonly string[],
  to: readonly string[],
  percent = 100,
): Promise<NetworkFault> {
  checkDisjoint(from, to);
  if (!Number.isInteger(percent) || percent < 1 || percent > 100) {
    throw new ClusterError(`loss is a whole percentage 1..100, got ${percent}`, 'CLUSTER_INVALID_OPTION');
  }
  const sources = addressSet(lab, from);
  const chance = percent === 100 ? '' : `numgen random mod 100 < ${percent} `;
  const rules = new Map<string, string[]>();
  for (const host of to) rules.set(host, [`input ip saddr ${sources} ${chance}drop`]);
  return ruleFault(lab, `${percent}% loss ${from.join(',')} → ${to.join(',')}`, rules);
}

/**
 * Takes the host's link down (the bridge's end of its veth): it can reach nobody and nobody it, as when
 * a cable is pulled; its processes keep running. Undo brings the link back up.
 */
export async function linkDown(lab: NetnsLab, host: string): Promise<NetworkFault> {
  const { link } = lab.host(host);
  const ip = findBinary('ip');
  await runCommand(ip, ['link', 'set', 'dev', link, 'down']);
  let undone: Promise<void> | undefined;
  return {
    description: `link of ${host} down`,
    undo() {
      undone ??= runCommand(ip, ['link', 'set', 'dev', link, 'up']).then(() => {});
      return undone;
    },
  };
}

// A TCP relay that holds every chunk, each way, for `delayMs` before passing it on (order kept: timers of
// one duration fire in the order they were set). Runs inside the client's namespace as `nobody`, so the
// rule steering the client's connections into it does not steer its own onward connections.
const DELAY_PROXY = `
const net = require('node:net');
const [host, target, port, delayMs] = JSON.parse(process.argv[1]);
const later = (fn) => setTimeout(fn, delayMs);
const relay = (from, to) => {
  from.on('data', (chunk) => later(() => to.write(chunk)));
  from.on('end', () => later(() => to.end()));
  from.on('error', () => later(() => to.destroy()));
  from.on('close', () => later(() => to.destroy()));
};
const server = net.createServer((client) => {
  const upstream = net.connect(port, target);
  relay(client, upstream);
  relay(upstream, client);
});
server.listen(0, host, () => console.log('listening ' + server.address().port));
`;

/** `nobody`'s uid: the delay proxy runs as it, and the steering rule skips its packets. */
const NOBODY_UID = 65534;

/**
 * Adds `delayMs` to every byte between `from` and `to:port`, each way (the kernel here has no netem):
 * nftables on `from` steers its connections to that port into a relay in its own namespace that holds
 * the data back. Established connections are reset once (a pooled connection would otherwise never see
 * the delay) and reconnect through the relay. Undo removes the steering and ends the relay.
 */
export async function addLatency(
  lab: NetnsLab,
  from: string,
  to: string,
  port: number,
  delayMs: number,
): Promise<NetworkFault> {
  if (!Number.isInteger(delayMs) || delayMs < 1 || delayMs > 60_000) {
    throw new ClusterError(`latency is 1..60000 whole ms, got ${delayMs}`, 'CLUSTER_INVALID_OPTION');
  }
  const client = lab.host(from);
  const target = lab.host(to).address;
  const logFile = join(lab.dir, `latency-${from}-${to}-${port}-${randomBytes(4).toString('hex')}.log`);
  const line = lab.commandOn(from, findBinary('setpriv'), [
    `--reuid=${NOBODY_UID}`,
    `--regid=${NOBODY_UID}`,
    '--clear-groups',
    '--',
    process.execPath,
    '-e',
    DELAY_PROXY,
    JSON.stringify([client.address, target, port, delayMs]),
  ]);
  const proxy = new ManagedProcess({
    name: `latency ${from}→${to}:${port}`,
    command: line.command,
    args: line.args,
    logFile,
  });
  proxy.start();
  let relayPort: number;
  try {
    relayPort = await waitFor(
      async () => {
        const match = /listening (\d+)/.exec(readFileSync(logFile, 'utf8'));
        return match?.[1] === undefined ? undefined : Number(match[1]);
      },
      {
        what: 'the delay relay to listen',
        timeoutMs: 10_000,
        intervalMs: 20,
        abortIf: () => proxy.deathReason(),
      },
    );
  } catch (error) {
    await proxy.kill();
    throw error;
  }
  const id = `fault-${randomBytes(6).toString('hex')}`;
  const steer = `ip daddr ${target} tcp dport ${port} meta skuid != ${NOBODY_UID}`;
  try {
    await nftOn(
      lab,
      from,
      [
        ensureTable(),
        `add chain inet ${TABLE} steer { type nat hook output priority -100; policy accept; }`,
        `add rule inet ${TABLE} steer ${steer} dnat ip to ${client.address}:${relayPort} comment "${id}"`,
        // Runs after the steering (priority -10 > -100): only connections opened before it still carry
        // the target's address, and each is reset at its next packet.
        `add rule inet ${TABLE} output ${steer} reject with tcp reset comment "${id}"`,
        '',
      ].join('\n'),
    );
  } catch (error) {
    await proxy.kill();
    throw error;
  }
  let undone: Promise<void> | undefined;
  return {
    description: `${delayMs} ms latency ${from} → ${to}:${port}`,
    undo() {
      undone ??= (async () => {
        await removeRules(lab, from, id);
        await proxy.stop(2_000);
      })();
      return undone;
    },
  };
}
