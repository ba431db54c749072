// Regenerates docker/compose.yml and docker/config/ from @rwsplit/cluster's templates, the one source of
// every service's configuration: run it after changing a template (test/render/compose.test.ts fails
// while the committed files differ from a fresh rendering). `--check` only compares, exit 1 on a difference.
//
//   node --conditions=source --import tsx scripts/render-compose.ts [--check]
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderCompose } from '../packages/cluster/src/render/render-compose.js';
import { writeRendering } from '../packages/cluster/src/render/write-rendering.js';

const DOCKER_DIR = fileURLToPath(new URL('../docker/', import.meta.url));

/** Generated files that differ from a fresh rendering, are missing, or should not be there. */
export function staleFiles(dir = DOCKER_DIR): string[] {
  const rendering = renderCompose();
  const stale = [...rendering].flatMap(([path, file]) => {
    const target = join(dir, path);
    return existsSync(target) && readFileSync(target, 'utf8') === file.content ? [] : [path];
  });
  const config = join(dir, 'config');
  const present = existsSync(config)
    ? (readdirSync(config, { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[])
        .filter((entry) => entry.isFile())
        .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    : [];
  return [...stale, ...present.filter((path) => !rendering.has(path))];
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv.includes('--check')) {
    const stale = staleFiles();
    if (stale.length > 0) {
      console.error(
        `docker/ is not what the templates render; run scripts/render-compose.ts:\n  ${stale.join('\n  ')}`,
      );
      process.exit(1);
    }
  } else {
    // config/ is wholly generated; compose.yml is rewritten; docker/app and the README are left alone.
    rmSync(join(DOCKER_DIR, 'config'), { recursive: true, force: true });
    const rendering = renderCompose();
    writeRendering(DOCKER_DIR, rendering);
    console.log(`wrote ${rendering.size} files under ${DOCKER_DIR}`);
  }
}
