import { fileURLToPath } from 'node:url';

/**
 * The `rwsplit-failover` program of this copy of the package, for a supervisor that runs managers as
 * processes (`@rwsplit/cluster` does), so it never has to know where the package is installed. It sits
 * beside this module: `cli.js` in the build that an installed package loads, `cli.ts` when the
 * repository's `source` condition loaded the TypeScript (which then needs a TypeScript loader to run).
 */
export const FAILOVER_CLI: string = fileURLToPath(
  new URL(import.meta.url.endsWith('.ts') ? './cli.ts' : './cli.js', import.meta.url),
);
