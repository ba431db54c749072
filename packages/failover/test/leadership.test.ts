import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import mysql from 'mysql2';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config.js';
import { MariaDbFailoverDialect } from '../src/dialect/mariadb-failover.js';
import {
  type AskVote,
  LEADER_LOCK,
  Leadership,
  type VoteAnswer,
  type VoteRequest,
} from '../src/leadership.js';

const dialect = new MariaDbFailoverDialect();
const LEASE = 2_000;

/** A clock the test moves by hand. */
function clock(start = 1_700_000_000_000) {
  let now = start;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

/** Node addresses nothing listens on: every connection is refused at once. */
const UNREACHABLE = [
  { name: 'db-1', host: '127.0.0.1', port: 1 },
  { name: 'db-2', host: '127.0.0.1', port: 2 },
];

function configOf(
  id: string,
  managerIds: readonly string[],
  nodes: readonly { name: string; host: string; port: number }[] = UNREACHABLE,
) {
  return resolveConfig({
    id,
    managers: managerIds.map((m, i) => ({ id: m, url: `http://127.0.0.1:${7301 + i}` })),
    nodes,
    user: 'failover',
    password: 'f41l0ver-pw',
    replication: { user: 'repl', password: 'r3pl-pw' },
    timeoutMs: 200,
    leaseMs: LEASE,
  });
}

/** A peer that answers every request with `answer`, recording what it was asked. */
function peers(answer: (peer: string) => VoteAnswer | Error) {
  const asked: { peer: string; url: string; request: VoteRequest }[] = [];
  const askVote: AskVote = async (peer, request) => {
    asked.push({ peer: peer.id, url: peer.url, request });
    const result = answer(peer.id);
    if (result instanceof Error) throw result;
    return result;
  };
  return { asked, askVote };
}

const grant = (candidate: string): VoteAnswer => ({ granted: true, supports: candidate });
const refuse = (supports: string): VoteAnswer => ({ granted: false, supports });

const started: Leadership[] = [];
function leadership(...args: ConstructorParameters<typeof Leadership>): Leadership {
  const made = new Leadership(...args);
  started.push(made);
  return made;
}

afterEach(() => {
  for (const made of started.splice(0)) made.close();
});

describe('Leadership: quorum', () => {
  it('cannot lead alone without locks: 2 nodes and 1 manager need 2 voters', async () => {
    const { asked, askVote } = peers(() => new Error('no peers'));
    const lone = leadership(configOf('app-1', ['app-1']), () => dialect, askVote);
    expect(lone.quorum).toBe(2);
    expect(lone.current).toEqual({
      leader: false,
      votes: 1,
      quorum: 2,
      locks: [],
      peerVotes: [],
      following: undefined,
    });
    // The nodes refuse connections: no lock is taken, so one vote of two.
    const standing = await lone.renew(new Set(['db-1', 'db-2']));
    expect(standing).toEqual({
      leader: false,
      votes: 1,
      quorum: 2,
      locks: [],
      peerVotes: [],
      following: undefined,
    });
    expect(asked).toEqual([]);
    expect(await lone.confirm()).toBe(false);
  });
});

describe('Leadership: vote', () => {
  it('grants a candidate its vote and then follows it, lending nothing of its own', () => {
    const t = clock();
    const { askVote } = peers(() => new Error('unused'));
    const manager = leadership(configOf('app-2', ['app-1', 'app-2']), () => dialect, askVote, t.now);
    expect(manager.vote({ candidate: 'app-1' })).toEqual({ granted: true, supports: 'app-1' });
    expect(manager.current).toMatchObject({ leader: false, votes: 0, following: 'app-1', peerVotes: [] });
  });

  it('refuses a second candidate while the lease to the first runs, and grants again after it', () => {
    const t = clock();
    const { askVote } = peers(() => new Error('unused'));
    const manager = leadership(configOf('app-2', ['app-1', 'app-2', 'app-3']), () => dialect, askVote, t.now);
    expect(manager.vote({ candidate: 'app-1' }).granted).toBe(true);
    t.advance(LEASE - 1);
    expect(manager.vote({ candidate: 'app-3' })).toEqual({ granted: false, supports: 'app-1' });
    t.advance(1);
    expect(manager.vote({ candidate: 'app-3' })).toEqual({ granted: true, supports: 'app-3' });
    expect(manager.current.following).toBe('app-3');
  });

  it('renews the lease when the same candidate asks again', () => {
    const t = clock();
    const { askVote } = peers(() => new Error('unused'));
    const manager = leadership(configOf('app-2', ['app-1', 'app-2', 'app-3']), () => dialect, askVote, t.now);
    manager.vote({ candidate: 'app-1' });
    t.advance(LEASE - 500);
    expect(manager.vote({ candidate: 'app-1' }).granted).toBe(true);
    t.advance(LEASE - 1);
    // Counted from the second grant: still lent to app-1.
    expect(manager.vote({ candidate: 'app-3' })).toEqual({ granted: false, supports: 'app-1' });
  });

  it('refuses every candidate while it leads', async () => {
    const t = clock();
    // 2 nodes and 3 managers: a quorum of 3 is this manager and both peers.
    const { askVote } = peers(() => grant('app-2'));
    const manager = leadership(configOf('app-2', ['app-1', 'app-2', 'app-3']), () => dialect, askVote, t.now);
    expect(await manager.renew(new Set())).toMatchObject({
      leader: true,
      votes: 3,
      peerVotes: ['app-1', 'app-3'],
    });
    expect(manager.vote({ candidate: 'app-1' })).toEqual({ granted: false, supports: 'app-2' });
    expect(manager.current.leader).toBe(true);
  });

  it('counts neither itself nor its peers while its vote is lent, and asks nobody', async () => {
    const t = clock();
    const { asked, askVote } = peers(() => grant('app-2'));
    const manager = leadership(configOf('app-2', ['app-1', 'app-2', 'app-3']), () => dialect, askVote, t.now);
    expect(manager.vote({ candidate: 'app-1' }).granted).toBe(true);
    t.advance(LEASE - 1);
    expect(await manager.renew(new Set(['db-1', 'db-2']))).toEqual({
      leader: false,
      votes: 0,
      quorum: 3,
      locks: [],
      peerVotes: [],
      following: 'app-1',
    });
    expect(asked).toEqual([]);
    // Once the lease ran out it is a candidate again: both peers grant, 3 of 5.
    t.advance(1);
    expect(await manager.renew(new Set())).toMatchObject({ leader: true, votes: 3, following: undefined });
    expect(asked.map((a) => a.peer)).toEqual(['app-1', 'app-3']);
  });
});

describe('Leadership: renew', () => {
  it('asks each peer for its vote as itself, and counts the grants', async () => {
    const t = clock();
    const { asked, askVote } = peers((peer) => (peer === 'app-1' ? grant('app-2') : refuse('app-3')));
    const manager = leadership(configOf('app-2', ['app-1', 'app-2', 'app-3']), () => dialect, askVote, t.now);
    const standing = await manager.renew(new Set());
    expect(asked).toEqual([
      { peer: 'app-1', url: 'http://127.0.0.1:7301', request: { candidate: 'app-2' } },
      { peer: 'app-3', url: 'http://127.0.0.1:7303', request: { candidate: 'app-2' } },
    ]);
    expect(standing).toEqual({
      leader: false,
      votes: 2,
      quorum: 3,
      locks: [],
      peerVotes: ['app-1'],
      following: undefined,
    });
  });

  it('is not leader in the seed topology with only its peer behind it (2 of 4)', async () => {
    const { askVote } = peers(() => grant('app-1'));
    const manager = leadership(configOf('app-1', ['app-1', 'app-2']), () => dialect, askVote, clock().now);
    expect(await manager.renew(new Set(['db-1', 'db-2']))).toMatchObject({
      leader: false,
      votes: 2,
      quorum: 3,
      peerVotes: ['app-2'],
    });
  });

  it("keeps a peer's grant through a failed ask until leaseMs after it was asked, then lets it lapse", async () => {
    const t = clock();
    let reachable = true;
    const { askVote } = peers(() => (reachable ? grant('app-2') : new Error('connect ECONNREFUSED')));
    const manager = leadership(configOf('app-2', ['app-1', 'app-2', 'app-3']), () => dialect, askVote, t.now);
    expect((await manager.renew(new Set())).leader).toBe(true);
    reachable = false;
    t.advance(LEASE - 1);
    expect(await manager.renew(new Set())).toMatchObject({ leader: true, peerVotes: ['app-1', 'app-3'] });
    t.advance(1);
    expect(await manager.renew(new Set())).toMatchObject({ leader: false, votes: 1, peerVotes: [] });
  });

  it('drops a grant at once when the peer refuses', async () => {
    const t = clock();
    let granting = true;
    const { askVote } = peers(() => (granting ? grant('app-2') : refuse('app-1')));
    const manager = leadership(configOf('app-2', ['app-1', 'app-2', 'app-3']), () => dialect, askVote, t.now);
    expect((await manager.renew(new Set())).leader).toBe(true);
    granting = false;
    t.advance(10);
    expect(await manager.renew(new Set())).toMatchObject({ leader: false, votes: 1, peerVotes: [] });
  });

  it('counts the lease from when it asked, not from when the answer came', async () => {
    const t = clock();
    // Each answer takes 300 ms of the candidate's clock.
    const slow: AskVote = async () => {
      t.advance(300);
      return grant('app-2');
    };
    const manager = leadership(configOf('app-2', ['app-1', 'app-2', 'app-3']), () => dialect, slow, t.now);
    const start = t.now();
    expect((await manager.renew(new Set())).leader).toBe(true);
    expect(t.now()).toBe(start + 600);
    t.advance(start + LEASE - 1 - t.now());
    expect(await manager.confirm()).toBe(true);
    t.advance(1);
    expect(await manager.confirm()).toBe(false);
  });
});

/**
 * A stand-in for a MariaDB node's lock service, over the real client protocol (mysql2's server side):
 * answers the handshake, `SELECT VERSION()`, `SET SESSION wait_timeout`, `SELECT 1` and
 * `SELECT GET_LOCK(name, 0)`, one holder per lock, released when its connection closes.
 */
interface FakeConnection {
  serverHandshake(args: Record<string, unknown>): void;
  on(event: 'query' | 'stmt_prepare', listener: (sql: string) => void): void;
  on(event: 'end' | 'error', listener: () => void): void;
  writeColumns(columns: readonly Record<string, unknown>[]): void;
  writeTextRow(values: readonly unknown[]): void;
  writeEof(): void;
  writeOk(): void;
  writeError(args: { message: string; code: number }): void;
  stream: { on(event: 'close', listener: () => void): void; destroy(): void };
  /** mysql2's server side does not restart the packet numbering per command: the fake does. */
  sequenceId: number;
}

interface FakeServer {
  listen(port: number, host: string): FakeServer;
  close(callback?: () => void): void;
  _server: import('node:net').Server;
}

async function fakeLockServer() {
  const holders = new Map<string, FakeConnection>();
  const open = new Set<FakeConnection>();
  const statements: string[] = [];
  let nextId = 1;
  const server = (
    mysql as unknown as { createServer(h: (c: FakeConnection) => void): FakeServer }
  ).createServer((connection) => {
    open.add(connection);
    const release = () => {
      open.delete(connection);
      for (const [name, holder] of holders) if (holder === connection) holders.delete(name);
    };
    connection.stream.on('close', release);
    connection.on('error', release);
    connection.serverHandshake({
      protocolVersion: 10,
      serverVersion: '10.11.9-MariaDB-log',
      connectionId: nextId++,
      statusFlags: 2,
      characterSet: 33,
      capabilityFlags: 0xf7ff,
      authCallback: (_: unknown, done: (error: null) => void) => {
        done(null);
        connection.sequenceId = 0;
      },
    });
    const answer = (sql: string) => {
      statements.push(sql);
      const row = (name: string, value: unknown) => {
        connection.writeColumns([
          {
            catalog: 'def',
            schema: '',
            table: '',
            orgTable: '',
            name,
            orgName: '',
            characterSet: 33,
            columnLength: 20,
            columnType: typeof value === 'number' ? 8 : 253,
            flags: 0,
            decimals: 0,
          },
        ]);
        connection.writeTextRow([value]);
        connection.writeEof();
      };
      const lock = /^SELECT GET_LOCK\('([^']*)', 0\) AS taken$/.exec(sql);
      if (sql === 'SELECT VERSION() AS version') row('version', '10.11.9-MariaDB-log');
      else if (sql === 'SELECT 1') row('1', 1);
      else if (/^SET SESSION wait_timeout = \d+$/.test(sql)) connection.writeOk();
      else if (lock !== null) {
        const name = lock[1]!;
        const holder = holders.get(name);
        if (holder === undefined || holder === connection) {
          holders.set(name, connection);
          row('taken', 1);
        } else row('taken', 0);
      } else connection.writeError({ message: `fake server cannot run ${sql}`, code: 1064 });
      connection.sequenceId = 0;
    };
    connection.on('query', answer);
    connection.on('stmt_prepare', answer);
  });
  server.listen(0, '127.0.0.1');
  await once(server._server, 'listening');
  const port = (server._server.address() as AddressInfo).port;
  return {
    port,
    statements,
    holder: (name: string) => holders.get(name),
    holds: (name: string) => holders.has(name),
    /** Another manager's session takes the lock. */
    takeElsewhere(name: string) {
      holders.set(name, {} as FakeConnection);
    },
    async close() {
      for (const connection of open) connection.stream.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('Leadership: node locks (against a fake lock server)', () => {
  const servers: Awaited<ReturnType<typeof fakeLockServer>>[] = [];
  afterEach(async () => {
    for (const made of started.splice(0)) made.close();
    for (const server of servers.splice(0)) await server.close();
  });

  async function twoNodes() {
    const one = await fakeLockServer();
    const two = await fakeLockServer();
    servers.push(one, two);
    return {
      one,
      two,
      nodes: [
        { name: 'db-1', host: '127.0.0.1', port: one.port },
        { name: 'db-2', host: '127.0.0.1', port: two.port },
      ],
    };
  }

  it('leads alone with one lock when 2 nodes and 1 manager need 2 voters', async () => {
    const { one, two, nodes } = await twoNodes();
    const { askVote } = peers(() => new Error('no peers'));
    const lone = leadership(configOf('app-1', ['app-1'], nodes), () => dialect, askVote, clock().now);
    // db-1 is down as far as the manager can tell: only db-2's lock is taken.
    const standing = await lone.renew(new Set(['db-2']));
    expect(standing).toEqual({
      leader: true,
      votes: 2,
      quorum: 2,
      locks: ['db-2'],
      peerVotes: [],
      following: undefined,
    });
    expect(two.holds(LEADER_LOCK)).toBe(true);
    expect(one.holds(LEADER_LOCK)).toBe(false);
    expect(two.statements).toContain('SET SESSION wait_timeout = 2');
    expect(await lone.confirm()).toBe(true);
  });

  it('takes no lock on a node outside the reachable set, nor on any node before the flavour is known', async () => {
    const { one, two, nodes } = await twoNodes();
    const { askVote } = peers(() => new Error('no peers'));
    const lone = leadership(configOf('app-1', ['app-1'], nodes), () => dialect, askVote, clock().now);
    expect(await lone.renew(new Set(['db-2']))).toMatchObject({ locks: ['db-2'] });
    expect(one.statements).toEqual([]);
    const unknown = leadership(configOf('app-1', ['app-1'], nodes), () => undefined, askVote, clock().now);
    const before = two.statements.length;
    expect(await unknown.renew(new Set(['db-1', 'db-2']))).toMatchObject({
      leader: false,
      votes: 1,
      locks: [],
    });
    expect(one.statements).toEqual([]);
    expect(two.statements.length).toBe(before);
  });

  it('does not count a lock another manager holds', async () => {
    const { one, two, nodes } = await twoNodes();
    one.takeElsewhere(LEADER_LOCK);
    two.takeElsewhere(LEADER_LOCK);
    const { askVote } = peers(() => new Error('no peers'));
    const lone = leadership(configOf('app-1', ['app-1'], nodes), () => dialect, askVote, clock().now);
    expect(await lone.renew(new Set(['db-1', 'db-2']))).toMatchObject({ leader: false, votes: 1, locks: [] });
  });

  it('refuses a candidate with a higher id while it holds locks, though it does not lead', async () => {
    const { one, two, nodes } = await twoNodes();
    // 2 nodes and 5 managers: a quorum of 4. app-1 holds both locks, its peers refuse: 3 votes.
    const { askVote } = peers(() => refuse('app-2'));
    const app1 = leadership(
      configOf('app-1', ['app-1', 'app-2', 'app-3', 'app-4', 'app-5'], nodes),
      () => dialect,
      askVote,
      clock().now,
    );
    expect(await app1.renew(new Set(['db-1', 'db-2']))).toMatchObject({
      leader: false,
      votes: 3,
      quorum: 4,
      locks: ['db-1', 'db-2'],
    });
    expect(app1.vote({ candidate: 'app-2' })).toEqual({ granted: false, supports: 'app-1' });
    expect(app1.current).toMatchObject({ locks: ['db-1', 'db-2'], following: undefined });
    expect(one.holds(LEADER_LOCK) && two.holds(LEADER_LOCK)).toBe(true);
  });

  it('grants a candidate with a lower id while it holds locks, and lets the locks go', async () => {
    const { one, two, nodes } = await twoNodes();
    // 2 nodes and 5 managers: a quorum of 4. app-5 backs app-3, the others refuse.
    const { askVote } = peers((peer) => (peer === 'app-5' ? grant('app-3') : refuse(peer)));
    const managers = ['app-1', 'app-2', 'app-3', 'app-4', 'app-5'];
    const app3 = leadership(configOf('app-3', managers, nodes), () => dialect, askVote, clock().now);
    // Only db-2 answers: 1 lock, itself and app-5 make 3 of the 4 needed.
    expect(await app3.renew(new Set(['db-2']))).toMatchObject({
      leader: false,
      votes: 3,
      locks: ['db-2'],
      peerVotes: ['app-5'],
    });
    expect(app3.vote({ candidate: 'app-4' })).toEqual({ granted: false, supports: 'app-3' });
    expect(app3.vote({ candidate: 'app-1' })).toEqual({ granted: true, supports: 'app-1' });
    expect(app3.current).toMatchObject({ locks: [], following: 'app-1', votes: 0, peerVotes: [] });
    // Its connection to db-2 is closed, so the server frees the lock for app-1.
    await expect.poll(() => two.holds(LEADER_LOCK)).toBe(false);
    expect(one.holds(LEADER_LOCK)).toBe(false);
  });

  it('lets its locks go without a quorum when a lower id may lead instead', async () => {
    const { two, nodes } = await twoNodes();
    const { askVote } = peers(() => refuse('app-1'));
    const app2 = leadership(
      configOf('app-2', ['app-1', 'app-2', 'app-3'], nodes),
      () => dialect,
      askVote,
      clock().now,
    );
    // 1 lock and itself: 2 of 3, no peer behind it, app-1 exists: it holds nothing.
    expect(await app2.renew(new Set(['db-2']))).toMatchObject({ leader: false, votes: 1, locks: [] });
    await expect.poll(() => two.holds(LEADER_LOCK)).toBe(false);
  });
});
