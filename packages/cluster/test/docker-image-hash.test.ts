import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseDeb822Sources } from '../src/docker/apt-sources.js';
import { baseImageSpec, baseImageTag, debianArch } from '../src/docker/base-image.js';
import { contextHashes, type ImageInputs, imageTag } from '../src/docker/image-hash.js';
import { IMAGE_NAMES, imageRecipe } from '../src/docker/image-recipes.js';

const INPUTS: ImageInputs = {
  name: 'nginx',
  files: [
    { path: 'Dockerfile', sha256: 'a'.repeat(64) },
    { path: 'conf/extra', sha256: 'b'.repeat(64) },
  ],
  buildArgs: { ONE: '1', TWO: '2' },
  baseImageId: 'sha256:base',
};

describe('imageTag', () => {
  it('names the repository after the image and is the same for the same inputs in any order', () => {
    const tag = imageTag(INPUTS);
    expect(tag).toMatch(/^rwsplit\/nginx:[0-9a-f]{16}$/);
    expect(
      imageTag({
        ...INPUTS,
        files: [...INPUTS.files].reverse(),
        buildArgs: { TWO: '2', ONE: '1' },
      }),
    ).toBe(tag);
  });

  it('changes with the Dockerfile, any context file, a build argument or the base image', () => {
    const tag = imageTag(INPUTS);
    const changed: ImageInputs[] = [
      { ...INPUTS, files: [{ path: 'Dockerfile', sha256: 'c'.repeat(64) }, INPUTS.files[1]!] },
      { ...INPUTS, files: [INPUTS.files[0]!, { path: 'conf/other', sha256: 'b'.repeat(64) }] },
      { ...INPUTS, buildArgs: { ONE: '1', TWO: '3' } },
      { ...INPUTS, buildArgs: { ONE: '1' } },
      { ...INPUTS, baseImageId: 'sha256:rebuilt' },
    ];
    const tags = changed.map(imageTag);
    expect(tags).not.toContain(tag);
    expect(new Set(tags).size).toBe(tags.length);
  });
});

describe('contextHashes', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it("hashes each file's bytes, so an edited file changes the tag", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rwsplit-hash-'));
    dirs.push(dir);
    const source = join(dir, 'Dockerfile');
    writeFileSync(source, 'FROM a\n');
    const [first] = await contextHashes([{ path: 'Dockerfile', source }]);
    expect(first).toEqual({
      path: 'Dockerfile',
      sha256: createHash('sha256').update('FROM a\n').digest('hex'),
    });
    // Same size, written at once: only the bytes tell the two apart.
    writeFileSync(source, 'FROM b\n');
    const [second] = await contextHashes([{ path: 'Dockerfile', source }]);
    expect(second?.sha256).toBe(createHash('sha256').update('FROM b\n').digest('hex'));
  });
});

describe('imageRecipe', () => {
  it('has a Dockerfile in every image context', () => {
    for (const name of IMAGE_NAMES) {
      expect(imageRecipe(name).files.map((file) => file.path)).toContain('Dockerfile');
    }
  });

  it("puts this process's own Node binary into the node context, to be installed at its own path", () => {
    const recipe = imageRecipe('node');
    expect(recipe.files).toContainEqual({ path: 'node', source: process.execPath });
    expect(recipe.buildArgs.NODE_PATH).toBe(process.execPath);
  });
});

describe('baseImageSpec', () => {
  const sources = parseDeb822Sources(`Types: deb
URIs: http://ftp.fr.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
`);

  it("bootstraps the host's Debian release from its mirror", () => {
    const spec = baseImageSpec('ID=debian\nVERSION_CODENAME=bookworm\n', sources, 'amd64');
    expect(spec).toMatchObject({ codename: 'bookworm', arch: 'amd64', variant: 'minbase' });
    expect(spec.mirrors).toEqual({
      mirror: 'http://ftp.fr.debian.org/debian',
      securityMirror: 'http://deb.debian.org/debian-security',
    });
    expect(spec.files['/etc/apt/sources.list.d/debian.sources']?.content).toContain('bookworm-security');
    expect(spec.files['/usr/sbin/policy-rc.d']).toEqual({ content: '#!/bin/sh\nexit 101\n', mode: 0o755 });
  });

  it('uses bookworm from deb.debian.org on a machine that is not Debian', () => {
    const spec = baseImageSpec('ID=ubuntu\nVERSION_CODENAME=noble\n', sources, 'amd64');
    expect(spec.codename).toBe('bookworm');
    expect(spec.mirrors.mirror).toBe('http://deb.debian.org/debian');
  });

  it('tags the base by its parameters: another mirror, release or architecture is another base', () => {
    const spec = baseImageSpec('ID=debian\nVERSION_CODENAME=bookworm\n', sources, 'amd64');
    const tag = baseImageTag(spec);
    expect(tag).toMatch(/^rwsplit\/base:[0-9a-f]{16}$/);
    expect(baseImageTag(baseImageSpec('ID=debian\nVERSION_CODENAME=bookworm\n', sources, 'amd64'))).toBe(tag);
    expect(
      baseImageTag({ ...spec, mirrors: { ...spec.mirrors, mirror: 'http://deb.debian.org/debian' } }),
    ).not.toBe(tag);
    expect(baseImageTag({ ...spec, codename: 'trixie' })).not.toBe(tag);
    expect(baseImageTag({ ...spec, arch: 'arm64' })).not.toBe(tag);
  });

  it("maps Node's architecture names to Debian's", () => {
    expect(debianArch('x64')).toBe('amd64');
    expect(debianArch('arm64')).toBe('arm64');
  });
});
