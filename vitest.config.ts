import { defineConfig } from 'vitest/config';

// Workspace packages resolve to their TypeScript sources through the "source" export condition,
// so tests never need a build step. Only added to Vite's defaults: listing 'import' here would make
// CommonJS dependencies (Express's require() calls) resolve to ESM files, and 'module' would pick
// bundler-only builds (extensionless imports) that Node cannot load.
const conditions = ['source', 'node', 'development|production'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['source'] } },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          // Fast tests first, then the cluster suites (which run with their own worker limit).
          sequence: { groupOrder: 0 },
          include: ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          sequence: { groupOrder: 1 },
          include: ['test/**/*.test.ts'],
          globalSetup: ['test/global-setup.ts'],
          // Each file starts real clusters (mariadbd, haproxy, nginx); two at a time fit two cores.
          maxWorkers: 2,
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
