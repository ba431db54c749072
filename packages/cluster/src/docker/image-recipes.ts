import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sharedLibraryPackages } from './shared-libraries.js';

/** The images the docker runtime runs the topology's programs in. */
export type ImageName = 'mariadb' | 'haproxy' | 'nginx' | 'node' | 'monitoring';

export const IMAGE_NAMES: readonly ImageName[] = Object.freeze([
  'mariadb',
  'haproxy',
  'nginx',
  'node',
  'monitoring',
]);

// src/docker/ (dist/docker/ once built) → src/ (dist/), whose sibling docker/ holds the images.
const CODE_ROOT = new URL('..', import.meta.url);

/** The Dockerfiles, one directory each (`<name>/Dockerfile`), shipped beside `src/` and `dist/`. */
export const IMAGES_DIR = fileURLToPath(new URL('../docker/images/', CODE_ROOT));

/** One file of a build context: where it goes in the context, and where it comes from on this machine. */
export interface ContextFile {
  readonly path: string;
  readonly source: string;
}

/** What a build needs besides the base: its context's files and the build arguments. */
export interface ImageRecipe {
  readonly name: ImageName;
  readonly files: readonly ContextFile[];
  readonly buildArgs: Readonly<Record<string, string>>;
}

/**
 * An image's recipe on this machine. The Dockerfile directory is the context; a few images take facts
 * from the host, since the runtime runs the host's command lines over the host's files:
 * - mariadb is pinned to the host's MariaDB version (the harness runs mariadb-install-db natively);
 * - node carries the host's own Node binary at its own path, with the packages of the libraries it loads.
 */
export function imageRecipe(name: ImageName): ImageRecipe {
  const dir = join(IMAGES_DIR, name);
  const files = listFiles(dir).map((source) => ({ path: relative(dir, source), source }));
  switch (name) {
    case 'mariadb':
      return { name, files, buildArgs: { MARIADB_VERSION: installedVersion('mariadb-server-core') ?? '' } };
    case 'node':
      return {
        name,
        files: [...files, { path: 'node', source: process.execPath }],
        buildArgs: {
          NODE_PATH: process.execPath,
          NODE_LIBRARY_PACKAGES: sharedLibraryPackages(process.execPath).join(' '),
        },
      };
    default:
      return { name, files, buildArgs: {} };
  }
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      const path = join(dir, entry.name);
      return entry.isDirectory() ? listFiles(path) : statSync(path).isFile() ? [path] : [];
    })
    .sort();
}

/** The installed version of a Debian package on this machine, or undefined when it is not installed. */
export function installedVersion(pkg: string): string | undefined {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax, not a template
  const query = spawnSync('dpkg-query', ['-W', '-f=${db:Status-Status} ${Version}', pkg], {
    encoding: 'utf8',
  });
  const [status, version] = (query.stdout ?? '').trim().split(' ');
  return query.status === 0 && status === 'installed' && version ? version : undefined;
}
