// A database replica that stops answering (SIGSTOP), as a client of the whole stack sees it: HAProxy (TLS)
// → Nginx → notes app → MariaDB. Without statement deadlines every GET in flight on the replica waited for
// Nginx's 30 s 504; with the notes app's deadlines (1 s per read attempt, then the primary) no request may
// fail and none may wait longer than 3 s.
import { type Cluster, startCluster } from '@rwsplit/cluster';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { NOTES_APP } from '../support/notes-app.js';
import { expectStalledReplicaServed } from './support/stalled-replica.js';

let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster({ monitoring: false, servers: 2, replicas: 1, app: NOTES_APP });
});

afterAll(async () => {
  await cluster?.stop();
});

describe('a SIGSTOPped replica through the whole stack', () => {
  it('makes no GET fail and none wait longer than 3 s', async () => {
    await expectStalledReplicaServed(cluster);
  });
});
