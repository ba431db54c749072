import { createRouter, type Router, type RouterConfig } from '../src/index.js';
import { FakeDriver, type FakeServer } from './fake-driver.js';

export interface Rig {
  readonly driver: FakeDriver;
  readonly router: Router;
  readonly primary: FakeServer;
  readonly replicas: FakeServer[];
}

/** A router over fake servers `p` (primary) and `r1`..`rN` (replicas, named replica-1 ...). */
export function rig(options: Partial<RouterConfig> & { replicaCount?: number } = {}): Rig {
  const { replicaCount = 1, ...rest } = options;
  const driver = new FakeDriver();
  const replicas = Array.from({ length: replicaCount }, (_, i) => ({
    host: `r${i + 1}`,
    name: `replica-${i + 1}`,
  }));
  const router = createRouter({
    primary: { host: 'p', name: 'primary' },
    replicas,
    driver,
    // Static roles and no GTID bookkeeping: these tests are about routing, pooling and pinning over
    // fakes; the monitor and read-your-writes are tested against real servers.
    monitor: false,
    consistency: 'eventual',
    ...rest,
  });
  return {
    driver,
    router,
    primary: driver.server('p'),
    replicas: replicas.map((r) => driver.server(r.host)),
  };
}
