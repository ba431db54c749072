import type { ReplicaState } from '@rwsplit/router/replication';
import { describe, expect, it } from 'vitest';
import type { NodeConfig } from '../src/config.js';
import { chooseCandidate, primaryView, replicaVerdict, upkeep } from '../src/decide.js';
import { MariaDbFailoverDialect } from '../src/dialect/mariadb-failover.js';
import type { NodeObservation, ReachableNode, UnreachableNode } from '../src/observation.js';

const dialect = new MariaDbFailoverDialect();

const node = (name: string, host: string, neverPromote = false): Required<NodeConfig> => ({
  name,
  host,
  port: 3306,
  neverPromote,
});

/** Three MariaDB nodes; each one's server_id is its number. db-1 was the primary. */
const DB1 = node('db-1', '10.0.0.21');
const DB2 = node('db-2', '10.0.0.22');
const DB3 = node('db-3', '10.0.0.23');
const NODES = [DB1, DB2, DB3];
const SERVER_ID: Readonly<Record<string, number>> = { 'db-1': 1, 'db-2': 2, 'db-3': 3, 'db-4': 4 };

/** `SHOW SLAVE STATUS` of a replica streaming from `source`, as the router parses it. */
function streaming(source: Required<NodeConfig>, receivedGtids: string): ReplicaState {
  return {
    ioRunning: true,
    sqlRunning: true,
    secondsBehind: 0,
    sourceHost: source.host,
    sourcePort: source.port,
    lastError: '',
    ioState: 'Yes',
    ioErrno: 0,
    sqlErrno: 0,
    receivedGtids,
  };
}

/** The IO thread retrying a source that refuses connections. */
function reconnecting(source: Required<NodeConfig>, receivedGtids: string): ReplicaState {
  return {
    ...streaming(source, receivedGtids),
    ioRunning: false,
    ioState: 'Connecting',
    ioErrno: 2003,
    secondsBehind: null,
    lastError: `error reconnecting to master 'repl@${source.host}:${source.port}' - retry-time: 1  maximum-retries: 100000  message: Can't connect to server on '${source.host}' (111 "Connection refused")`,
  };
}

/** The IO thread stopped on a fatal error from the source: the position is gone from its binlog. */
function broken1236(source: Required<NodeConfig>, receivedGtids: string): ReplicaState {
  return {
    ...streaming(source, receivedGtids),
    ioRunning: false,
    ioState: 'No',
    ioErrno: 1236,
    secondsBehind: null,
    lastError:
      "Got fatal error 1236 from master when reading data from binary log: 'Error: connecting slave requested to start from GTID 0-1-133324, which is not in the master's binlog'",
  };
}

/** `STOP SLAVE` by an operator: both threads off, no error. */
function stoppedByHand(source: Required<NodeConfig>, receivedGtids: string): ReplicaState {
  return {
    ...streaming(source, receivedGtids),
    ioRunning: false,
    sqlRunning: false,
    ioState: 'No',
    secondsBehind: null,
  };
}

/** A reachable node as the manager observes it: its binlog state, and its relay log on top. */
function seen(
  name: string,
  executed: string,
  { readOnly = true, replica }: { readOnly?: boolean; replica?: ReplicaState } = {},
): ReachableNode {
  return {
    name,
    reachable: true,
    readOnly,
    replica,
    facts: {
      serverId: SERVER_ID[name]!,
      serverUuid: '',
      executed,
      semiSync: {
        sourceEnabled: true,
        active: !readOnly,
        clients: readOnly ? 0 : 1,
        yesTx: 0,
        noTx: 0,
        replicaEnabled: true,
      },
    },
    history: dialect.history(executed, replica?.receivedGtids ?? ''),
  };
}

function down(name: string): UnreachableNode {
  const host = [DB1, DB2, DB3].find((n) => n.name === name)?.host ?? '10.0.0.99';
  return {
    name,
    reachable: false,
    error: `connect ECONNREFUSED ${host}:3306`,
    errorCode: 'ECONNREFUSED',
  };
}

describe('primaryView', () => {
  it('takes the one writable node as the primary', () => {
    const observations = [
      seen('db-1', '0-1-120', { readOnly: false }),
      seen('db-2', '0-1-120', { replica: streaming(DB1, '0-1-120') }),
      down('db-3'),
    ];
    expect(primaryView(observations, undefined)).toEqual({ kind: 'primary', node: 'db-1', alsoWritable: [] });
    // What the manager remembered does not matter while one node is writable.
    expect(primaryView(observations, 'db-2')).toEqual({ kind: 'primary', node: 'db-1', alsoWritable: [] });
  });

  it('keeps the known primary and names the other writable nodes to fence', () => {
    // The old primary came back writable after a failover to db-2.
    const observations = [
      seen('db-1', '0-1-120', { readOnly: false }),
      seen('db-2', '0-1-120,0-2-150', { readOnly: false }),
      seen('db-3', '0-1-120,0-2-150', { replica: streaming(DB2, '0-2-150') }),
    ];
    expect(primaryView(observations, 'db-2')).toEqual({
      kind: 'primary',
      node: 'db-2',
      alsoWritable: ['db-1'],
    });
  });

  it('is split brain with several writable nodes and no known primary among them', () => {
    const observations = [
      seen('db-1', '0-1-120', { readOnly: false }),
      seen('db-2', '0-1-120,0-2-150', { readOnly: false }),
      seen('db-3', '0-1-120', { replica: streaming(DB1, '0-1-120') }),
    ];
    expect(primaryView(observations, undefined)).toEqual({ kind: 'split-brain', writable: ['db-1', 'db-2'] });
    expect(primaryView(observations, 'db-3')).toEqual({ kind: 'split-brain', writable: ['db-1', 'db-2'] });
  });

  it('says the known primary is unreachable, with the driver error, when no node is writable', () => {
    const observations = [
      down('db-1'),
      seen('db-2', '0-1-120', { replica: reconnecting(DB1, '0-1-120') }),
      seen('db-3', '0-1-118', { replica: reconnecting(DB1, '0-1-118') }),
    ];
    expect(primaryView(observations, 'db-1')).toEqual({
      kind: 'none',
      lastKnown: 'db-1',
      reason: 'db-1 is unreachable: connect ECONNREFUSED 10.0.0.21:3306',
    });
  });

  it('says the known primary is read-only when it was fenced', () => {
    const observations = [
      seen('db-1', '0-1-120'),
      seen('db-2', '0-1-120', { replica: streaming(DB1, '0-1-120') }),
    ];
    expect(primaryView(observations, 'db-1')).toEqual({
      kind: 'none',
      lastKnown: 'db-1',
      reason: 'db-1 is read-only',
    });
  });

  it('says only that no node is writable when no primary was known', () => {
    const observations = [down('db-1'), seen('db-2', '0-1-120', { replica: reconnecting(DB1, '0-1-120') })];
    expect(primaryView(observations, undefined)).toEqual({
      kind: 'none',
      lastKnown: undefined,
      reason: 'no node is writable',
    });
  });
});

describe('replicaVerdict', () => {
  it('agrees the primary is gone when every replica of it lost it', () => {
    const verdict = replicaVerdict(
      [
        down('db-1'),
        seen('db-2', '0-1-115', { replica: reconnecting(DB1, '0-1-120') }),
        seen('db-3', '0-1-118', { replica: reconnecting(DB1, '0-1-118') }),
      ],
      DB1,
    );
    expect(verdict).toEqual({
      agree: true,
      lost: ['db-2', 'db-3'],
      stillConnected: [],
      cannotTell: [],
      reason: 'its replicas lost it too (db-2, db-3)',
    });
  });

  it('does not agree while one replica still streams from it (only the manager lost its path)', () => {
    const verdict = replicaVerdict(
      [
        down('db-1'),
        seen('db-2', '0-1-115', { replica: reconnecting(DB1, '0-1-120') }),
        seen('db-3', '0-1-121', { replica: streaming(DB1, '0-1-121') }),
      ],
      DB1,
    );
    expect(verdict).toMatchObject({
      agree: false,
      lost: ['db-2'],
      stillConnected: ['db-3'],
      reason: 'db-3 still replicate from it',
    });
  });

  it('counts a replica stopped by hand as one that cannot tell', () => {
    const onlyStopped = replicaVerdict(
      [down('db-1'), seen('db-2', '0-1-120', { replica: stoppedByHand(DB1, '0-1-120') })],
      DB1,
    );
    expect(onlyStopped).toEqual({
      agree: false,
      lost: [],
      stillConnected: [],
      cannotTell: ['db-2'],
      reason: 'no replica can confirm (db-2)',
    });
    const withLost = replicaVerdict(
      [
        down('db-1'),
        seen('db-2', '0-1-120', { replica: stoppedByHand(DB1, '0-1-120') }),
        seen('db-3', '0-1-118', { replica: reconnecting(DB1, '0-1-118') }),
      ],
      DB1,
    );
    expect(withLost).toMatchObject({ agree: true, lost: ['db-3'], cannotTell: ['db-2'] });
  });

  it('counts an unreachable replica as one that cannot tell', () => {
    const verdict = replicaVerdict([down('db-1'), down('db-2'), down('db-3')], DB1);
    expect(verdict).toEqual({
      agree: false,
      lost: [],
      stillConnected: [],
      cannotTell: ['db-2', 'db-3'],
      reason: 'no replica can confirm (db-2, db-3)',
    });
    const oneLeft = replicaVerdict(
      [down('db-1'), down('db-2'), seen('db-3', '0-1-118', { replica: reconnecting(DB1, '0-1-118') })],
      DB1,
    );
    expect(oneLeft).toMatchObject({ agree: true, lost: ['db-3'], cannotTell: ['db-2'] });
  });

  it('ignores replicas of another source, and a node that replicates from nobody', () => {
    // db-3 replicates from db-2 (a chain), db-4 from another port on db-1's host.
    const elsewhere = { ...DB1, port: 3307 };
    const verdict = replicaVerdict(
      [
        down('db-1'),
        seen('db-2', '0-1-120'),
        seen('db-3', '0-1-120', { replica: reconnecting(DB2, '0-1-120') }),
        seen('db-4', '0-1-120', { replica: reconnecting(elsewhere, '0-1-120') }),
      ],
      DB1,
    );
    expect(verdict).toEqual({
      agree: false,
      lost: [],
      stillConnected: [],
      cannotTell: [],
      reason: 'no replica can confirm (none follows it)',
    });
  });

  describe('with nodes that had lost it before they forgot their source (a failover cut short)', () => {
    // db-2 was chosen, applied its relay log and ran STOP SLAVE; RESET SLAVE ALL; the manager that did it
    // died before it made db-2 writable. db-2 is read-only and follows nobody.
    const forgot = () => seen('db-2', '0-1-120');

    it('counts a node that follows nobody and is in lostBefore as one that lost it, naming it', () => {
      expect(replicaVerdict([down('db-1'), forgot()], DB1, new Set(['db-2']))).toEqual({
        agree: true,
        lost: ['db-2'],
        stillConnected: [],
        cannotTell: [],
        reason: 'its replicas lost it too (db-2)',
      });
      // Next to a replica still reconnecting to the dead primary: both testify.
      const withReplica = replicaVerdict(
        [down('db-1'), forgot(), seen('db-3', '0-1-118', { replica: reconnecting(DB1, '0-1-118') })],
        DB1,
        new Set(['db-2']),
      );
      expect(withReplica).toEqual({
        agree: true,
        lost: ['db-2', 'db-3'],
        stillConnected: [],
        cannotTell: [],
        reason: 'its replicas lost it too (db-2, db-3)',
      });
    });

    it('ignores the same node when it is not in lostBefore', () => {
      const nobody = {
        agree: false,
        lost: [],
        stillConnected: [],
        cannotTell: [],
        reason: 'no replica can confirm (none follows it)',
      };
      expect(replicaVerdict([down('db-1'), forgot()], DB1)).toEqual(nobody);
      expect(replicaVerdict([down('db-1'), forgot()], DB1, new Set())).toEqual(nobody);
      // Another node in the set says nothing about db-2.
      expect(replicaVerdict([down('db-1'), forgot()], DB1, new Set(['db-3']))).toEqual(nobody);
    });

    it('counts a node in lostBefore that is now unreachable as one that cannot tell', () => {
      expect(replicaVerdict([down('db-1'), down('db-2')], DB1, new Set(['db-2']))).toEqual({
        agree: false,
        lost: [],
        stillConnected: [],
        cannotTell: ['db-2'],
        reason: 'no replica can confirm (db-2)',
      });
    });

    it('judges a node in lostBefore that follows a source again by its current status, not the set', () => {
      const lostBefore = new Set(['db-2']);
      // Pointed at db-3 since: it says nothing about db-1.
      const elsewhere = replicaVerdict(
        [
          down('db-1'),
          seen('db-2', '0-1-120', { replica: streaming(DB3, '0-1-120') }),
          seen('db-3', '0-1-120'),
        ],
        DB1,
        lostBefore,
      );
      expect(elsewhere).toEqual({
        agree: false,
        lost: [],
        stillConnected: [],
        cannotTell: [],
        reason: 'no replica can confirm (none follows it)',
      });
      // Following db-1 again and streaming from it: db-1 is up, whatever the set says.
      const streamingAgain = replicaVerdict(
        [down('db-1'), seen('db-2', '0-1-121', { replica: streaming(DB1, '0-1-121') })],
        DB1,
        lostBefore,
      );
      expect(streamingAgain).toEqual({
        agree: false,
        lost: [],
        stillConnected: ['db-2'],
        cannotTell: [],
        reason: 'db-2 still replicate from it',
      });
      // Following db-1 again, stopped by hand: it cannot tell.
      const stopped = replicaVerdict(
        [down('db-1'), seen('db-2', '0-1-120', { replica: stoppedByHand(DB1, '0-1-120') })],
        DB1,
        lostBefore,
      );
      expect(stopped).toMatchObject({ agree: false, lost: [], cannotTell: ['db-2'] });
    });
  });
});

describe('replicaVerdict with replicas the manager stopped itself (stoppedAfterLoss)', () => {
  /** After the manager's STOP SLAVE IO_THREAD: IO thread off, no error, the applier running. */
  const stoppedByManager = (source: Required<NodeConfig>, receivedGtids: string): ReplicaState => ({
    ...streaming(source, receivedGtids),
    ioRunning: false,
    ioState: 'No',
    secondsBehind: null,
  });

  it('counts one stopped without an error as one that lost it', () => {
    const observations = [
      down('db-1'),
      seen('db-2', '0-1-120', { replica: stoppedByManager(DB1, '0-1-120') }),
    ];
    expect(replicaVerdict(observations, DB1, new Set(), new Set(['db-2']))).toMatchObject({
      agree: true,
      lost: ['db-2'],
      cannotTell: [],
    });
    expect(replicaVerdict(observations, DB1)).toMatchObject({ agree: false, cannotTell: ['db-2'] });
  });

  it('judges one that receives again, or was refused by the primary (1236), by its current status', () => {
    const set = new Set(['db-2']);
    const receiving = [down('db-1'), seen('db-2', '0-1-121', { replica: streaming(DB1, '0-1-121') })];
    expect(replicaVerdict(receiving, DB1, new Set(), set)).toMatchObject({
      agree: false,
      stillConnected: ['db-2'],
    });
    const refused = [down('db-1'), seen('db-2', '0-1-120', { replica: broken1236(DB1, '0-1-120') })];
    expect(replicaVerdict(refused, DB1, new Set(), set)).toMatchObject({
      agree: false,
      cannotTell: ['db-2'],
    });
  });

  it('still does not agree while another replica streams from the primary', () => {
    const observations = [
      down('db-1'),
      seen('db-2', '0-1-120', { replica: stoppedByManager(DB1, '0-1-120') }),
      seen('db-3', '0-1-120', { replica: streaming(DB1, '0-1-120') }),
    ];
    expect(replicaVerdict(observations, DB1, new Set(), new Set(['db-2']))).toMatchObject({
      agree: false,
      lost: ['db-2'],
      stillConnected: ['db-3'],
    });
  });
});

describe('chooseCandidate', () => {
  const failedDb1 = (lastHistory?: string) => ({
    name: 'db-1',
    serverId: 1,
    serverUuid: '',
    lastHistory: lastHistory === undefined ? undefined : dialect.history(lastHistory, ''),
  });

  it('prefers the replica that received the most over the one that applied the most', () => {
    const choice = chooseCandidate(
      dialect,
      NODES,
      [
        down('db-1'),
        seen('db-2', '0-1-110', { replica: reconnecting(DB1, '0-1-120') }),
        seen('db-3', '0-1-118', { replica: reconnecting(DB1, '0-1-118') }),
      ],
      failedDb1('0-1-120'),
    );
    expect(choice.chosen?.name).toBe('db-2');
    expect(choice.ranking).toEqual([{ name: 'db-2' }, { name: 'db-3' }]);
  });

  it('breaks a tie in what was received by what was applied', () => {
    const choice = chooseCandidate(
      dialect,
      NODES,
      [
        down('db-1'),
        seen('db-2', '0-1-110', { replica: reconnecting(DB1, '0-1-120') }),
        seen('db-3', '0-1-119', { replica: reconnecting(DB1, '0-1-120') }),
      ],
      failedDb1('0-1-120'),
    );
    expect(choice.chosen?.name).toBe('db-3');
  });

  it('never promotes a node marked never-promote, however far along', () => {
    const nodes = [DB1, DB2, { ...DB3, neverPromote: true }];
    const choice = chooseCandidate(
      dialect,
      nodes,
      [
        down('db-1'),
        seen('db-2', '0-1-110', { replica: reconnecting(DB1, '0-1-110') }),
        seen('db-3', '0-1-120', { replica: reconnecting(DB1, '0-1-120') }),
      ],
      failedDb1('0-1-120'),
    );
    expect(choice.chosen?.name).toBe('db-2');
    expect(choice.ranking).toEqual([{ name: 'db-2' }, { name: 'db-3', excluded: 'never-promote' }]);
  });

  it('leaves out unreachable replicas, and chooses none when none is left', () => {
    const choice = chooseCandidate(
      dialect,
      NODES,
      [down('db-1'), down('db-2'), down('db-3')],
      failedDb1('0-1-120'),
    );
    expect(choice).toEqual({
      chosen: undefined,
      ranking: [
        { name: 'db-2', excluded: 'unreachable' },
        { name: 'db-3', excluded: 'unreachable' },
      ],
    });
  });

  it('excludes a replica with a local write under its own server id, naming the GTIDs', () => {
    // db-3 got 0-1-118 and then took a write of its own (0-3-119): by seq it looks furthest along.
    const choice = chooseCandidate(
      dialect,
      NODES,
      [
        down('db-1'),
        seen('db-2', '0-1-118', { replica: reconnecting(DB1, '0-1-118') }),
        seen('db-3', '0-1-118,0-3-119', { replica: reconnecting(DB1, '0-1-118') }),
      ],
      failedDb1('0-1-118'),
    );
    expect(choice.chosen?.name).toBe('db-2');
    expect(choice.ranking).toEqual([{ name: 'db-2' }, { name: 'db-3', excluded: 'errant GTIDs 0-3-119' }]);
  });

  it("does not count the failed primary's transactions beyond its last-seen history as errant", () => {
    // db-1 was last seen at 0-1-119; db-2 received one more before it died.
    const observations: NodeObservation[] = [
      down('db-1'),
      seen('db-2', '0-1-116', { replica: reconnecting(DB1, '0-1-120') }),
      seen('db-3', '0-1-118', { replica: reconnecting(DB1, '0-1-118') }),
    ];
    for (const last of ['0-1-119', undefined]) {
      const choice = chooseCandidate(dialect, NODES, observations, failedDb1(last));
      expect(choice.chosen?.name).toBe('db-2');
      expect(choice.ranking).toEqual([{ name: 'db-2' }, { name: 'db-3' }]);
    }
  });

  describe('the seed topology, failing over a second time', () => {
    // db-1 was the primary (0-1-1..100) and failed; db-2 took over and wrote 0-2-101..150; db-1 came
    // back and rejoined as db-2's replica. Now db-2 dies: db-1's binlog state still holds its own 0-1-100.
    const seed = [DB1, DB2];
    const observations = [
      seen('db-1', '0-1-100,0-2-150', { replica: reconnecting(DB2, '0-2-150') }),
      down('db-2'),
    ];
    const failedDb2 = (lastHistory: string | undefined) => ({
      name: 'db-2',
      serverId: 2,
      serverUuid: '',
      lastHistory: lastHistory === undefined ? undefined : dialect.history(lastHistory, ''),
    });

    it("promotes the former primary: its old writes are in the failed primary's last history", () => {
      const choice = chooseCandidate(dialect, seed, observations, failedDb2('0-1-100,0-2-150'));
      expect(choice.chosen?.name).toBe('db-1');
      expect(choice.ranking).toEqual([{ name: 'db-1' }]);
    });

    it('cannot tell those writes from errant ones without that history', () => {
      const choice = chooseCandidate(dialect, seed, observations, failedDb2(undefined));
      expect(choice).toEqual({
        chosen: undefined,
        ranking: [{ name: 'db-1', excluded: 'errant GTIDs 0-1-100' }],
      });
    });
  });

  it('gives a tie to the node listed first in the configuration, not in the observations', () => {
    const observations = [
      seen('db-3', '0-1-120', { replica: reconnecting(DB1, '0-1-120') }),
      seen('db-2', '0-1-120', { replica: reconnecting(DB1, '0-1-120') }),
      down('db-1'),
    ];
    expect(chooseCandidate(dialect, NODES, observations, failedDb1('0-1-120')).chosen?.name).toBe('db-2');
    expect(chooseCandidate(dialect, [DB3, DB1, DB2], observations, failedDb1('0-1-120')).chosen?.name).toBe(
      'db-3',
    );
  });
});

describe('upkeep', () => {
  // db-2 is the primary after a failover from db-1 at 0-1-100.
  const PRIMARY = '0-1-100,0-2-150';
  const primary = () => seen('db-2', PRIMARY, { readOnly: false });
  const nothing = { fence: [], rejoin: [], diverged: [], broken: [], stopped: [], resume: [] };

  it('leaves healthy replicas alone, and one retrying its connection', () => {
    const plan = upkeep(
      dialect,
      NODES,
      [
        seen('db-1', PRIMARY, { replica: streaming(DB2, '0-2-150') }),
        primary(),
        seen('db-3', '0-1-100,0-2-149', { replica: reconnecting(DB2, '0-2-149') }),
      ],
      'db-2',
    );
    expect(plan).toEqual(nothing);
  });

  it('fences a writable node that is not the primary', () => {
    const plan = upkeep(
      dialect,
      NODES,
      [
        seen('db-1', '0-1-100', { readOnly: false }),
        primary(),
        seen('db-3', PRIMARY, { replica: streaming(DB2, '0-2-150') }),
      ],
      'db-2',
    );
    expect(plan).toEqual({ ...nothing, fence: ['db-1'] });
  });

  it('rejoins a fenced old primary that has nothing the primary lacks, as a former primary', () => {
    const plan = upkeep(dialect, NODES, [seen('db-1', '0-1-100'), primary()], 'db-2');
    expect(plan).toEqual({ ...nothing, rejoin: [{ name: 'db-1', formerPrimary: true }] });
  });

  it('rejoins a replica still pointed at the dead primary, not as a former primary', () => {
    const plan = upkeep(
      dialect,
      NODES,
      [down('db-1'), primary(), seen('db-3', '0-1-98', { replica: reconnecting(DB1, '0-1-100') })],
      'db-2',
    );
    expect(plan).toEqual({ ...nothing, rejoin: [{ name: 'db-3', formerPrimary: false }] });
  });

  it('keeps out a node with transactions the primary never got, naming them', () => {
    // db-1 committed 0-1-101..102 that never replicated before it died.
    const plan = upkeep(dialect, NODES, [seen('db-1', '0-1-102'), primary()], 'db-2');
    expect(plan).toEqual({ ...nothing, diverged: [{ name: 'db-1', gtids: '0-1-102' }] });
  });

  it('decides nothing about rejoining while the primary is not observed', () => {
    const plan = upkeep(dialect, NODES, [seen('db-1', '0-1-100'), down('db-2')], 'db-2');
    expect(plan).toEqual(nothing);
  });

  it('reports a replica of the primary whose IO thread stopped on error 1236 as broken', () => {
    const state = broken1236(DB2, '0-1-133324');
    const plan = upkeep(dialect, NODES, [primary(), seen('db-3', '0-1-133324', { replica: state })], 'db-2');
    expect(plan).toEqual({ ...nothing, broken: [{ name: 'db-3', error: state.lastError }] });
  });

  it('reports a replica whose SQL thread stopped on an error as broken', () => {
    const state: ReplicaState = {
      ...streaming(DB2, '0-2-150'),
      sqlRunning: false,
      sqlErrno: 1062,
      secondsBehind: null,
      lastError:
        "Could not execute Write_rows_v1 event on table shop.orders; Duplicate entry '4711' for key 'PRIMARY', Error_code: 1062",
    };
    const plan = upkeep(
      dialect,
      NODES,
      [primary(), seen('db-3', '0-1-100,0-2-149', { replica: state })],
      'db-2',
    );
    expect(plan).toEqual({ ...nothing, broken: [{ name: 'db-3', error: state.lastError }] });
  });

  it('reports a replica of the primary stopped by hand as stopped, and leaves it alone', () => {
    const plan = upkeep(
      dialect,
      NODES,
      [primary(), seen('db-3', PRIMARY, { replica: stoppedByHand(DB2, '0-2-150') })],
      'db-2',
    );
    expect(plan).toEqual({ ...nothing, stopped: ['db-3'] });
  });

  it('ignores unreachable nodes', () => {
    expect(upkeep(dialect, NODES, [down('db-1'), primary(), down('db-3')], 'db-2')).toEqual(nothing);
  });
});
