import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { containerEnvironment, exitOf, shellLine } from '../src/runtime/container-process.js';
import { codeMounts } from '../src/runtime/docker-runtime.js';

describe('a container exit as a process exit', () => {
  it('reads 128 + n as death by signal n, as a shell does', () => {
    expect(exitOf(137)).toEqual({ code: null, signal: 'SIGKILL' });
    expect(exitOf(143)).toEqual({ code: null, signal: 'SIGTERM' });
  });

  it('keeps plain exit codes, and an unknown end as unknown', () => {
    expect(exitOf(0)).toEqual({ code: 0, signal: null });
    expect(exitOf(1)).toEqual({ code: 1, signal: null });
    expect(exitOf(null)).toEqual({ code: null, signal: null });
  });
});

describe("a container's environment", () => {
  it('holds what the harness set for the program and PATH, not the rest of this process', () => {
    const own = { PATH: '/usr/bin', CI_TOKEN: 'secret', HOME: '/root', DB_USER: 'app' };
    const spec = { ...own, DB_USER: 'app', DB_PRIMARY: '127.1.2.21:3306', HOME: '/root', PORT: '3000' };
    expect(containerEnvironment(spec, own)).toEqual({
      PATH: '/usr/bin',
      DB_PRIMARY: '127.1.2.21:3306',
      PORT: '3000',
    });
  });

  it('gives a program with no environment of its own only PATH', () => {
    expect(containerEnvironment(undefined, { PATH: '/bin', SECRET: 'x' })).toEqual({ PATH: '/bin' });
  });
});

describe('the readiness command as a shell line', () => {
  it('quotes only what the shell would split or expand', () => {
    expect(shellLine(['mariadb-admin', '--socket=/tmp/a b/x.sock', 'ping'])).toBe(
      "mariadb-admin '--socket=/tmp/a b/x.sock' ping",
    );
    expect(shellLine(['echo', "it's $HOME"])).toBe(`echo 'it'\\''s $HOME'`);
  });
});

describe('the code a container is given', () => {
  const root = mkdtempSync(join(tmpdir(), 'rwsplit-code-mounts-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('binds each path by its project root (the topmost directory with node_modules), once', () => {
    const project = join(root, 'project');
    mkdirSync(join(project, 'node_modules'), { recursive: true });
    mkdirSync(join(project, 'packages', 'app', 'node_modules'), { recursive: true });
    mkdirSync(join(project, 'packages', 'app', 'public'), { recursive: true });
    writeFileSync(join(project, 'packages', 'app', 'main.js'), '');
    const mounts = codeMounts([
      join(project, 'packages', 'app', 'main.js'),
      join(project, 'packages', 'app', 'public'),
      join(project, 'packages', 'app'),
    ]);
    expect(mounts).toEqual([{ path: project, mode: 'ro' }]);
  });

  it('binds a path outside any project as itself, and skips what does not exist or is not absolute', () => {
    const lone = join(root, 'lone');
    mkdirSync(lone);
    writeFileSync(join(lone, 'app.mjs'), '');
    expect(codeMounts([join(lone, 'app.mjs'), join(root, 'missing'), 'node', ''])).toEqual([
      { path: lone, mode: 'ro' },
    ]);
  });

  it('never binds a system directory over the image', () => {
    expect(codeMounts(['/usr/bin/node', '/etc'])).toEqual([]);
  });
});
