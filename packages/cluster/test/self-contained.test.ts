// The package must work wherever npm puts it: nothing it reads at run time may live outside it.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { TEMPLATE_DIR } from '../src/templates.js';

const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));
const SRC_DIR = join(PACKAGE_DIR, 'src');

const sources = (readdirSync(SRC_DIR, { recursive: true }) as string[])
  .filter((file) => file.endsWith('.ts'))
  .map((file) => ({ file, text: readFileSync(join(SRC_DIR, file), 'utf8') }));

const inside = (path: string) => !relative(PACKAGE_DIR, path).startsWith('..');

describe('@rwsplit/cluster is self-contained', () => {
  it('resolves every file it finds by its own URL inside the package, where it exists', () => {
    const found: string[] = [];
    for (const { file, text } of sources) {
      for (const [, target] of text.matchAll(/new URL\(\s*'([^']+)',\s*import\.meta\.url\)/g)) {
        const path = resolve(join(SRC_DIR, file, '..'), target!);
        found.push(relative(PACKAGE_DIR, path));
        expect(inside(path), `${file}: ${target}`).toBe(true);
        expect(existsSync(path), `${file}: ${target}`).toBe(true);
      }
    }
    expect(found).toEqual(expect.arrayContaining(['templates', 'system-packages.json']));
  });

  it('names no path that climbs out of the package', () => {
    const climbing = sources.filter(({ text }) => /['"`]\.\.\/\.\.\//.test(text)).map(({ file }) => file);
    expect(climbing).toEqual([]);
  });

  it('has every template it renders under templates/', () => {
    const named = sources.flatMap(({ text }) =>
      [...text.matchAll(/renderTemplate(?:File|Text)\(\s*'([^']+)'/g)].map((m) => m[1]!),
    );
    expect(named.length).toBeGreaterThan(5);
    expect(named.filter((path) => !existsSync(join(TEMPLATE_DIR, path)))).toEqual([]);
  });

  it('packs only files of its own', () => {
    const manifest = JSON.parse(readFileSync(join(PACKAGE_DIR, 'package.json'), 'utf8')) as {
      files: string[];
    };
    // `!pattern` entries exclude (the rules' promtool tests stay in the repository).
    const included = manifest.files.filter((entry) => !entry.startsWith('!'));
    expect(included.filter((entry) => !inside(resolve(PACKAGE_DIR, entry)))).toEqual([]);
    // dist/ is built by prepack; everything else ships as it is in the repository.
    const missing = included.filter((e) => e !== 'dist' && !existsSync(join(PACKAGE_DIR, e)));
    expect(missing).toEqual([]);
  });
});
