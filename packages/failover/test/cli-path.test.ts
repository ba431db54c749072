import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FAILOVER_CLI } from '../src/index.js';

describe('FAILOVER_CLI', () => {
  it('is the program beside the loaded module: the TypeScript source here, the build when installed', () => {
    // test/packaging/cluster-pack.test.ts checks the installed side (dist/cli.js under plain node).
    expect(FAILOVER_CLI).toBe(fileURLToPath(new URL('../src/cli.ts', import.meta.url)));
    expect(existsSync(FAILOVER_CLI)).toBe(true);
  });
});
