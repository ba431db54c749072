import { afterEach } from 'vitest';
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

/**
 * For a test file whose tests each make one rig: `const make = rigPerTest();` then `make(options)` in a
 * test; the rig's router is closed after each test.
 */
export function rigPerTest(): (options?: Parameters<typeof rig>[0]) => Rig {
  let current: Rig | undefined;
  afterEach(async () => {
    await current?.router.close();
    current = undefined;
  });
  return (options = {}) => {
    current = rig(options);
    return current;
  };
}

/** Polls `check` every 5 ms until it holds; fails with `what` after `ms`. */
export async function until(
  check: () => boolean,
  ms = 1_000,
  what = 'condition not met in time',
): Promise<void> {
  const end = performance.now() + ms;
  while (!check()) {
    if (performance.now() > end) throw new Error(what);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
