import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { ClusterError } from './errors.js';

// Debian puts daemons in sbin, which is not on a normal user's PATH.
const EXTRA_DIRS = ['/usr/sbin', '/usr/local/sbin', '/sbin'];

// The one binary → Debian package list, shipped in this package (beside `src/` and `dist/`) and read by
// the repository's set-up script that installs them.
const PACKAGE_OF = JSON.parse(
  readFileSync(new URL('../system-packages.json', import.meta.url), 'utf8'),
) as Record<string, string>;

const found = new Map<string, string>();

/** Absolute path of a system binary, or a clear error naming the package that provides it. */
export function findBinary(name: string): string {
  const cached = found.get(name);
  if (cached) return cached;
  const dirs = [...(process.env.PATH ?? '').split(delimiter), ...EXTRA_DIRS].filter(Boolean);
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      found.set(name, candidate);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  const pkg = PACKAGE_OF[name] ?? name;
  throw new ClusterError(
    `${name} not found on PATH or in ${EXTRA_DIRS.join(', ')}; install it: sudo apt-get install -y ${pkg} (in the rwsplit repository, \`npm start\` or \`npm test\` does that once)`,
    'CLUSTER_MISSING_BINARY',
  );
}
