// docker/ for users: the committed compose.yml and config/ are exactly what the templates render (nobody
// edits the generated files by hand), compose itself accepts the file with the required variables set and
// refuses it broken or with a password missing, and the services' own validators accept their configs.
// No Docker engine runs here: `docker-compose config` only reads the file.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { staleFiles } from '../../scripts/render-compose.js';
import { selfSigned } from '../support/certificates.js';
import { run } from './support/run.js';

const DOCKER = fileURLToPath(new URL('../../docker/', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'rwsplit-compose-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const PASSWORDS = {
  RWSPLIT_DB_ROOT_PASSWORD: 'root-pw',
  RWSPLIT_APP_PASSWORD: 'app-pw',
  RWSPLIT_MONITOR_PASSWORD: 'monitor-pw',
  RWSPLIT_REPLICATION_PASSWORD: 'repl-pw',
  RWSPLIT_STATS_PASSWORD: 'stats-pw',
};

/** The environment without any RWSPLIT_ variable of the caller's, plus `extra`. */
function env(extra: Record<string, string>): NodeJS.ProcessEnv {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith('RWSPLIT_')),
  );
  return { ...clean, ...extra };
}

const hasCompose = async () => (await run('sh', ['-c', 'command -v docker-compose'])).code === 0;

function composeConfig(file: string, environment: NodeJS.ProcessEnv) {
  return run('docker-compose', ['-f', file, 'config', '-q'], environment);
}

/** A copy of a generated file whose absolute paths under `prefixes` point into `root`. */
function rebased(path: string, root: string, prefixes: readonly string[]): string {
  const copy = join(root, path.replaceAll('/', '_'));
  let text = readFileSync(join(DOCKER, path), 'utf8');
  for (const prefix of prefixes) text = text.replaceAll(` ${prefix}`, ` ${root}${prefix}`);
  writeFileSync(copy, text);
  return copy;
}

describe('docker/ (compose for users)', () => {
  it('is exactly what the templates render: regenerate it with scripts/render-compose.ts', () => {
    expect(staleFiles(DOCKER)).toEqual([]);
  });

  it('docker-compose config accepts compose.yml with every password set, for either flavour', async (context) => {
    if (!(await hasCompose()))
      context.skip('docker-compose is not installed (Debian package docker-compose)');
    const ok = await composeConfig(join(DOCKER, 'compose.yml'), env(PASSWORDS));
    expect(ok.code, ok.output).toBe(0);
    const mariadb = await composeConfig(
      join(DOCKER, 'compose.yml'),
      env({ ...PASSWORDS, RWSPLIT_DB_FLAVOR: 'mariadb', RWSPLIT_DB_IMAGE: 'mariadb:10.11' }),
    );
    expect(mariadb.code, mariadb.output).toBe(0);
    const resolved = await run(
      'docker-compose',
      ['-f', join(DOCKER, 'compose.yml'), 'config'],
      env({ ...PASSWORDS, RWSPLIT_DB_FLAVOR: 'mariadb', RWSPLIT_DB_IMAGE: 'mariadb:10.11' }),
    );
    expect(resolved.output).toContain('image: mariadb:10.11');
    expect(resolved.output).toContain(`${DOCKER}config/mariadb/db-replica/initdb`);
  });

  it('docker-compose config refuses compose.yml when any password is unset, naming it', async (context) => {
    if (!(await hasCompose()))
      context.skip('docker-compose is not installed (Debian package docker-compose)');
    for (const name of Object.keys(PASSWORDS)) {
      const { [name as keyof typeof PASSWORDS]: _, ...rest } = PASSWORDS;
      const missing = await composeConfig(join(DOCKER, 'compose.yml'), env(rest));
      expect(missing.code, name).not.toBe(0);
      expect(missing.output).toContain(`set ${name}, see docker/README.md`);
    }
  });

  it('docker-compose config refuses a broken copy', async (context) => {
    if (!(await hasCompose()))
      context.skip('docker-compose is not installed (Debian package docker-compose)');
    const copy = join(work, 'broken');
    cpSync(DOCKER, copy, { recursive: true, filter: (path) => !path.includes('/secrets') });
    const file = join(copy, 'compose.yml');
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.replace('condition: service_healthy', 'condition: service_happy'));
    const bad = await composeConfig(file, env(PASSWORDS));
    expect(bad.code, bad.output).not.toBe(0);
    expect(bad.output).toContain('service_happy');
    writeFileSync(file, text.replace('    healthcheck:\n      test:', '    healthcheck:\n     test:'));
    expect((await composeConfig(file, env(PASSWORDS))).code).not.toBe(0);
  });

  it("HAProxy's and MariaDB's validators accept the configs compose mounts", async () => {
    const root = mkdtempSync(join(work, 'validate-'));
    mkdirSync(join(root, 'run/secrets'), { recursive: true });
    mkdirSync(join(root, 'var/lib/haproxy'), { recursive: true });
    const made = await selfSigned(root, 'localhost');
    writeFileSync(
      join(root, 'run/secrets/lb-certificate'),
      made.certificatePem + readFileSync(made.keyFile, 'utf8'),
    );
    // Nginx's names (nginx-1, nginx-2) resolve only on compose's network: HAProxy may resolve them later.
    const haproxy = rebased('config/haproxy/haproxy.cfg', root, ['/run/', '/var/']);
    writeFileSync(
      haproxy,
      readFileSync(haproxy, 'utf8').replace(/^(\s+server \S+ nginx-\d:\d+)$/gm, '$1 init-addr none'),
    );
    const checked = await run(
      'haproxy',
      ['-c', '-f', haproxy],
      env({ RWSPLIT_STATS_PASSWORD: 'x', RWSPLIT_PUBLIC_AUTHORITY: 'localhost:8443' }),
    );
    expect(checked.code, checked.output).toBe(0);
    for (const node of ['db-primary', 'db-replica']) {
      for (const dir of ['var/lib/mysql', 'var/lib/mysql-files', 'var/lib/mysql-tmp'])
        mkdirSync(join(root, dir), { recursive: true });
      const cnf = rebased(`config/mariadb/${node}/my.cnf`, root, ['/var/', '/run/']);
      const help = await run('mariadbd', [`--defaults-file=${cnf}`, '--help', '--verbose']);
      expect(help.code, help.output).toBe(0);
      expect(help.output).toMatch(/^gtid-strict-mode\s+TRUE$/m);
      const mysql = await run('my_print_defaults', [
        `--defaults-file=${join(DOCKER, `config/mysql/${node}/my.cnf`)}`,
        'mysqld',
      ]);
      expect(mysql.code, mysql.output).toBe(0);
      expect(mysql.output).toContain('--gtid-mode=ON');
    }
  });
});
