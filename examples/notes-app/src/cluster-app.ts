// How @rwsplit/cluster runs this app on each server: the app carries its own start command, so the
// harness needs to know nothing about it. Its shape is the cluster's `AppSpec`; it is not typed as one
// here because the app does not depend on the harness (test/support/notes-app.ts checks the shape).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const APP_DIR = dirname(dirname(fileURLToPath(import.meta.url)));

/**
 * The notes app from its TypeScript source, as `npm start` in this directory runs it (`--import tsx`
 * resolves from `cwd`), with Nginx serving the dashboard's files itself. The harness hands it the
 * topology in `HOST`, `PORT`, `SERVER_NAME` and `DB_*` (see src/config.ts).
 */
export const notesApp = {
  command: [process.execPath, '--conditions=source', '--import', 'tsx', join(APP_DIR, 'src/main.ts')],
  cwd: APP_DIR,
  staticDir: join(APP_DIR, 'public'),
  // The detailed status (node addresses, probe errors) and the firing alerts (whose labels name hosts)
  // are for the app's own address only: Nginx refuses them, so the load balancer never serves them.
  internalPaths: ['/metrics', '/internal/status', '/internal/alerts'],
} as const;
