// Read-your-writes across app servers, end to end: a user writes through one server and reads through
// the other, over TLS through HAProxy, while the replica runs 2 s behind. With the consistency cookie
// the read sees the write (the router waits for the replica or reads from the primary); without it the
// read goes to the lagging replica and misses the write.
import { type Cluster, startCluster } from '@rwsplit/cluster';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { NOTES_APP } from '../support/notes-app.js';
import {
  delayTheReplica,
  expectNoStaleReadsWithCookie,
  expectStaleReadsWithoutCookie,
  LAGGING_REPLICA_STAYS_IN_ROTATION,
} from './support/read-your-writes.js';

const COOKIE_PAIRS = 500;
const COOKIELESS_PAIRS = 50;

let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster({
    monitoring: false,
    servers: 2,
    replicas: 1,
    app: { ...NOTES_APP, env: LAGGING_REPLICA_STAYS_IN_ROTATION },
  });
  await delayTheReplica(cluster);
});

afterAll(async () => {
  await cluster?.stop();
});

describe('read-your-writes across servers while the replica is 2 s behind', () => {
  it(`never reads stale data through the other server with the cookie (${COOKIE_PAIRS} pairs)`, async () => {
    await expectNoStaleReadsWithCookie(cluster, COOKIE_PAIRS);
  }, 120_000);

  it(`reads stale data through the other server without the cookie (${COOKIELESS_PAIRS} pairs)`, async () => {
    await expectStaleReadsWithoutCookie(cluster, COOKIELESS_PAIRS);
  }, 60_000);
});
