/**
 * HTTP throughput and latency of the notes API through the whole stack (HAProxy over TLS → 2 × Nginx →
 * 2 × app) against one Nginx → its app and one app alone, for `GET /api/notes/:id` and a 90/10
 * read/write mix, with autocannon at a fixed concurrency. The point is the ratio, measured in one run.
 *
 * Method: one cluster (2 servers, primary + 1 replica); SEED_NOTES notes created through the API.
 * Each target gets a discarded warm-up, then ROUNDS runs of DURATION at CONNECTIONS keep-alive
 * connections, pipelining 1, the targets taking turns so drift on the shared 2-core box hits all alike;
 * a target's figures add its rounds up. Note ids (and, in the mix, GET or POST) come from a seeded PRNG,
 * reset to the same seed for every run, so every target is asked the same sequence of requests.
 *
 * Run: `node --conditions=source --import tsx bench/http.bench.ts` (or `bench/run.ts http`).
 * Env: BENCH_HTTP_DURATION_S (default 4), BENCH_HTTP_ROUNDS (3), BENCH_HTTP_WARMUP_S (2),
 *      BENCH_HTTP_CONNECTIONS (32).
 */
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import type { ConnectionOptions } from 'node:tls';
import { pathToFileURL } from 'node:url';
import { type Cluster, startCluster } from '@rwsplit/cluster';
import { fetchText } from '../test/support/https.js';
import { NOTES_APP } from '../test/support/notes-app.js';

/** A request as autocannon builds it; `setupRequest` returns a changed copy. */
interface CannonRequest {
  readonly method?: string;
  readonly path?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

/** The response-side events of one autocannon connection (`Client`) that this bench listens to. */
interface CannonClient {
  on(
    event: 'headers',
    listener: (info: { readonly statusCode: number; readonly headers: readonly string[] }) => void,
  ): void;
  on(event: 'response', listener: (status: number, bytes: number, latencyMs: number) => void): void;
}

/** The subset of autocannon 8's options and results used here: the package ships no type declarations. */
interface CannonOptions {
  readonly url: string;
  readonly connections: number;
  readonly pipelining: number;
  readonly duration: number;
  readonly requests: readonly { setupRequest: (request: CannonRequest) => CannonRequest }[];
  readonly setupClient: (client: CannonClient) => void;
  readonly tlsOptions?: ConnectionOptions;
}

interface CannonResult {
  /** Seconds. */
  readonly duration: number;
  /** Connection errors, timeouts included. */
  readonly errors: number;
  readonly timeouts: number;
  readonly non2xx: number;
  readonly statusCodeStats: Record<string, { readonly count: number }>;
  readonly requests: { readonly total: number };
}

type Autocannon = (
  options: CannonOptions,
  done: (error: Error | null, result: CannonResult) => void,
) => unknown;

const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

const SEED_NOTES = 200;
const SEED = 0x5eed;
const WRITE_SHARE = 0.1;
const NOTE_BODY = 'A note written by the HTTP benchmark. '.repeat(3);

export function envInt(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isInteger(value) && value > 0 ? value : fallback;
}

/** xorshift32: the same seed gives every run the same sequence of ids and methods. */
export function seededRandom(seed: number): () => number {
  let state = seed | 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

export type Workload = (random: () => number) => (request: CannonRequest) => CannonRequest;

export function readWorkload(ids: readonly number[]): Workload {
  return (random) => (request) => ({
    ...request,
    method: 'GET',
    path: `/api/notes/${ids[Math.floor(random() * ids.length)]}`,
    headers: {},
    body: '',
  });
}

function mixedWorkload(ids: readonly number[]): Workload {
  return (random) => {
    const read = readWorkload(ids)(random);
    let written = 0;
    return (request) => {
      if (random() >= WRITE_SHARE) return read(request);
      written += 1;
      return {
        ...request,
        method: 'POST',
        path: '/api/notes',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ title: `bench note ${written}`, body: NOTE_BODY }),
      };
    };
  };
}

export interface Target {
  readonly label: string;
  readonly url: string;
  readonly tlsOptions?: ConnectionOptions;
}

/** What the response headers and client events said, beyond autocannon's own result. */
export class Tally {
  readonly servedBy = new Map<string, number>();
  readonly dbNode = new Map<string, number>();
  /** Latency in ms of every response by status (autocannon's histogram keeps whole ms only). */
  readonly latencies = new Map<number, number[]>();
  /** Consecutive responses on one connection, and how many of them came from another server than the one before. */
  pairs = 0;
  switched = 0;

  attach(client: CannonClient): void {
    let previous: string | undefined;
    client.on('headers', ({ statusCode, headers }) => {
      const server = header(headers, 'x-served-by') ?? 'none (no Nginx)';
      count(this.servedBy, server);
      count(this.dbNode, `${statusCode} → ${header(headers, 'x-db-node') ?? 'none'}`);
      if (previous !== undefined) {
        this.pairs += 1;
        if (server !== previous) this.switched += 1;
      }
      previous = server;
    });
    client.on('response', (status, _bytes, latencyMs) => {
      const list = this.latencies.get(status) ?? [];
      list.push(latencyMs);
      this.latencies.set(status, list);
    });
  }

  percentile(p: number, status?: number): number {
    const values =
      status === undefined ? [...this.latencies.values()].flat() : (this.latencies.get(status) ?? []);
    const sorted = Float64Array.from(values).sort();
    return sorted[Math.min(sorted.length - 1, Math.ceil((sorted.length * p) / 100) - 1)] ?? Number.NaN;
  }
}

function header(raw: readonly string[], name: string): string | undefined {
  for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i]?.toLowerCase() === name) return raw[i + 1];
  return undefined;
}

function count(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

export interface Settings {
  readonly connections: number;
  readonly durationS: number;
  readonly warmupS: number;
  readonly rounds: number;
}

function fire(target: Target, workload: Workload, durationS: number, connections: number, tally: Tally) {
  return new Promise<CannonResult>((resolve, reject) => {
    autocannon(
      {
        url: target.url,
        connections,
        pipelining: 1,
        duration: durationS,
        requests: [{ setupRequest: workload(seededRandom(SEED)) }],
        setupClient: (client) => tally.attach(client),
        ...(target.tlsOptions ? { tlsOptions: target.tlsOptions } : {}),
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
  });
}

/** One workload against one target, measured over several rounds that are added up. */
export class Contender {
  readonly tally = new Tally();
  /** Each round's req/s, in order. */
  readonly roundRates: number[] = [];
  readonly statusCounts = new Map<string, number>();
  responses = 0;
  errors = 0;
  timeouts = 0;
  private seconds = 0;
  private cpuMicros = 0;

  constructor(
    readonly workload: string,
    readonly target: Target,
    private readonly requests: Workload,
  ) {}

  warmUp(s: Settings): Promise<CannonResult> {
    return fire(this.target, this.requests, s.warmupS, s.connections, new Tally());
  }

  async round(s: Settings): Promise<void> {
    const cpu = process.cpuUsage();
    const result = await fire(this.target, this.requests, s.durationS, s.connections, this.tally);
    const used = process.cpuUsage(cpu);
    this.cpuMicros += used.user + used.system;
    this.seconds += result.duration;
    this.responses += result.requests.total;
    this.errors += result.errors;
    this.timeouts += result.timeouts;
    for (const [status, { count }] of Object.entries(result.statusCodeStats)) {
      this.statusCounts.set(status, (this.statusCounts.get(status) ?? 0) + count);
    }
    this.roundRates.push(result.requests.total / result.duration);
    console.log(
      `${this.workload} / ${this.target.label}: ${Math.round(this.roundRates.at(-1) ?? 0)} req/s, ` +
        `non-2xx ${result.non2xx}, errors ${result.errors}`,
    );
  }

  /** Requests per second over all rounds. */
  get rate(): number {
    return this.responses / this.seconds;
  }

  /** autocannon's own CPU (user + system) as a share of one core. */
  get clientCpu(): number {
    return this.cpuMicros / (this.seconds * 1e6);
  }

  get non2xx(): number {
    let n = 0;
    for (const [status, count] of this.statusCounts) if (!status.startsWith('2')) n += count;
    return n;
  }
}

async function seedNotes(cluster: Cluster): Promise<number[]> {
  const app = cluster.server(0).app.url;
  const ids: number[] = [];
  for (let i = 1; i <= SEED_NOTES; i++) {
    const response = await fetch(`${app}/api/notes`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ title: `seed note ${i}`, body: NOTE_BODY }),
    });
    if (response.status !== 201)
      throw new Error(`seeding note ${i}: HTTP ${response.status} ${await response.text()}`);
    ids.push(((await response.json()) as { id: number }).id);
  }
  // Reads without a consistency token go to the replica: wait until it has the last note on both servers.
  const last = ids.at(-1);
  const deadline = Date.now() + 15_000;
  for (const server of cluster.servers) {
    while ((await fetch(`${server.app.url}/api/notes/${last}`)).status !== 200) {
      if (Date.now() > deadline) throw new Error(`note ${last} not readable on ${server.name} within 15 s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  // One request through the LB with the certificate trusted for real: autocannon cannot check it (see run()).
  const check = await fetchText(`${cluster.lb.httpsUrl}/api/notes/${last}`, {
    ca: cluster.lb.certificatePem,
  });
  if (check.status !== 200) throw new Error(`GET through the LB answered ${check.status}: ${check.body}`);
  return ids;
}

export const ms = (value: number) => value.toFixed(value < 10 ? 2 : 1);
const ratio = (a: number, b: number) => (a / b).toFixed(2);

function share(map: Map<string, number>): string {
  const total = [...map.values()].reduce((a, b) => a + b, 0);
  return [...map.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, n]) => `${key} ${n} (${((100 * n) / total).toFixed(n < total / 100 ? 1 : 0)} %)`)
    .join(', ');
}

function resultRow(m: Contender): string {
  const non2xx = [...m.statusCounts]
    .filter(([status]) => !status.startsWith('2'))
    .map(([status, count]) => `${count} × ${status}`);
  const flag = m.non2xx + m.errors > 0 ? ' ⚠' : '';
  const rounds = m.roundRates.map((rate) => Math.round(rate)).join(', ');
  return (
    `| ${m.workload} | ${m.target.label}${flag} | ${Math.round(m.rate)} | ${rounds} | ` +
    `${ms(m.tally.percentile(50))} | ${ms(m.tally.percentile(99))} | ${m.responses} | ` +
    `${non2xx.join(', ') || 0} | ${m.errors} (${m.timeouts} timeouts) | ${(100 * m.clientCpu).toFixed(0)} % |`
  );
}

function ratioRow(label: string, over: Contender, under: Contender): string {
  const p = (m: Contender, q: number) => m.tally.percentile(q);
  return `| ${label} | ${ratio(over.rate, under.rate)} | ${ratio(p(over, 50), p(under, 50))} | ${ratio(p(over, 99), p(under, 99))} |`;
}

function switchedShare({ tally }: Contender): string {
  return tally.pairs > 0 ? `${((100 * tally.switched) / tally.pairs).toFixed(0)} %` : 'n/a';
}

function routingRow(m: Contender): string {
  const { tally } = m;
  return `| ${m.workload} | ${m.target.label} | ${share(tally.servedBy)} | ${switchedShare(m)} | ${share(tally.dbNode)} |`;
}

function mixRow(m: Contender): string {
  const { tally } = m;
  const reads = tally.latencies.get(200)?.length ?? 0;
  const writes = tally.latencies.get(201)?.length ?? 0;
  return (
    `| ${m.target.label} | ${((100 * writes) / (reads + writes)).toFixed(1)} % | ` +
    `${ms(tally.percentile(50, 200))} / ${ms(tally.percentile(99, 200))} | ` +
    `${ms(tally.percentile(50, 201))} / ${ms(tally.percentile(99, 201))} |`
  );
}

export async function run(): Promise<{ title: string; markdown: string }> {
  const settings: Settings = {
    durationS: envInt('BENCH_HTTP_DURATION_S', 4),
    warmupS: envInt('BENCH_HTTP_WARMUP_S', 2),
    rounds: envInt('BENCH_HTTP_ROUNDS', 3),
    connections: envInt('BENCH_HTTP_CONNECTIONS', 32),
  };
  // Other work on the box (other clusters, other benches) moves these numbers: record how busy it was.
  const loadBefore = loadavg()[0] ?? Number.NaN;
  const cluster = await startCluster({ monitoring: false, servers: 2, replicas: 1, app: NOTES_APP });
  try {
    const ids = await seedNotes(cluster);
    const lb: Target = {
      label: 'LB: HAProxy (TLS) → 2 × Nginx → 2 × app',
      url: cluster.lb.httpsUrl,
      // autocannon 8 passes these to tls.connect but then sets rejectUnauthorized: false itself
      // (lib/httpClient.js), so the CA is not enforced; seedNotes() checked the certificate once.
      // Loopback only. ALPN offers HTTP/1.1 alone (autocannon speaks nothing else).
      tlsOptions: { ca: cluster.lb.certificatePem, ALPNProtocols: ['http/1.1'] },
    };
    const nginx: Target = { label: 'one Nginx → its app (HTTP)', url: cluster.server(0).nginx.url };
    const app: Target = { label: 'one app (HTTP)', url: cluster.server(0).app.url };
    const read = readWorkload(ids);
    const mixed = mixedWorkload(ids);

    const readLb = new Contender('read', lb, read);
    const readNginx = new Contender('read', nginx, read);
    const readApp = new Contender('read', app, read);
    const mixLb = new Contender('90/10 mix', lb, mixed);
    const mixApp = new Contender('90/10 mix', app, mixed);
    const all = [readLb, readNginx, readApp, mixLb, mixApp];
    for (const contender of all) await contender.warmUp(settings);
    for (let round = 0; round < settings.rounds; round++) {
      // Rotate the order each round so drift on the shared box hits every contender alike.
      for (let i = 0; i < all.length; i++) await all[(round + i) % all.length]?.round(settings);
    }

    const failures = all
      .filter((m) => m.non2xx + m.errors > 0)
      .map((m) => `${m.workload} / ${m.target.label}: ${m.non2xx} non-2xx, ${m.errors} errors`);
    if (failures.length > 0) {
      console.error(`HTTP bench: requests failed (expected none):\n  ${failures.join('\n  ')}`);
      process.exitCode = 1;
    }

    const postBytes = JSON.stringify({ title: 'bench note 100', body: NOTE_BODY }).length;
    const markdown = [
      ...(failures.length > 0
        ? [`> **FAILED: requests failed where none should** (rows marked ⚠): ${failures.join('; ')}.`, '']
        : []),
      `\`GET /api/notes/:id\` over ${SEED_NOTES} seeded notes (random ids), and a 90/10 mix of those GETs with ` +
        `\`POST /api/notes\` (JSON, ~${postBytes} bytes). autocannon 8, ${settings.connections} keep-alive ` +
        `connections, pipelining 1. Each path: a ${settings.warmupS} s warm-up that is discarded, then ` +
        `${settings.rounds} rounds of ${settings.durationS} s, the paths taking turns (order rotated each round); ` +
        'req/s, percentiles and counts are over all rounds together. Ids and methods come from a seeded PRNG ' +
        `(seed ${SEED}), the same sequence for every run. Latencies are per response, in ms, from every sample ` +
        "(autocannon's own histogram keeps whole ms).",
      '',
      '| workload | path | req/s | req/s by round | p50 ms | p99 ms | responses | non-2xx | errors | autocannon CPU (of one core) |',
      '| --- | --- | ---: | --- | ---: | ---: | ---: | --- | --- | ---: |',
      ...all.map(resultRow),
      '',
      '### Ratios',
      '',
      'Throughput ratio > 1 means the first path serves more; latency ratio > 1 means it is slower.',
      '',
      '| comparison | req/s | p50 | p99 |',
      '| --- | ---: | ---: | ---: |',
      ratioRow('read: LB ÷ one app', readLb, readApp),
      ratioRow('read: LB ÷ one Nginx', readLb, readNginx),
      ratioRow('read: one Nginx ÷ one app', readNginx, readApp),
      ratioRow('90/10 mix: LB ÷ one app', mixLb, mixApp),
      '',
      '### The mix, reads and writes apart',
      '',
      '| path | writes (201) | read p50 / p99 ms | write p50 / p99 ms |',
      '| --- | ---: | ---: | ---: |',
      mixRow(mixLb),
      mixRow(mixApp),
      '',
      '### Where the requests went',
      '',
      '"Switched" is the share of consecutive responses on one client connection that came from a different ' +
        'server than the response before. HAProxy runs in `mode http` with `option http-keep-alive` and ' +
        '`balance roundrobin`, without `option prefer-last-server` or stickiness, so it picks a server for ' +
        'every request, not once per client connection, and each keep-alive connection from autocannon is ' +
        `spread over both servers: ${switchedShare(readLb)} of consecutive read responses on a connection switched ` +
        'server here (per-connection balancing would give 0 %). `X-DB-Node` is the node that answered the ' +
        "request's read, by status: GETs (200) carry no consistency token (autocannon sends no cookie back), so " +
        'they go to the replica; a POST (201) reads its note back through its own session token, which the replica ' +
        'answers if it has applied the insert within a short bounded wait, else the primary.',
      '',
      '| workload | path | X-Served-By | switched | X-DB-Node |',
      '| --- | --- | --- | ---: | --- |',
      ...all.map(routingRow),
      '',
      '### Caveats',
      '',
      "- Everything shares this machine's 2 cores: HAProxy, 2 × Nginx, 2 × app (Node), 2 × mariadbd and " +
        'autocannon itself (its CPU is in the first table). The LB path has two apps, but also all the extra ' +
        'processes and TLS on the same cores, so it is not a measure of what a second server adds in production.',
      '- The direct runs load server-1 only; the rest of the stack keeps running idle (HAProxy health checks ' +
        'every 300 ms, the replica, server-2).',
      `- 1-minute load average before the cluster started: ${loadBefore.toFixed(2)} (2 cores); anything else ` +
        'running on the machine during the runs also competes for them.',
      '- Each figure is from one run of the bench (the rounds show how much it moved within it); the ratios ' +
        'are what this run measured side by side, not a claim about production.',
      '- Nginx writes an access log line per request and the app a log line per request, on every path that ' +
        'reaches them.',
    ].join('\n');
    return { title: 'HTTP: through the load balancer vs straight to one app', markdown };
  } finally {
    await cluster.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log((await run()).markdown);
}
