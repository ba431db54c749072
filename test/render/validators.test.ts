// `rwsplit-cluster render`'s output checked by the services' own validators (haproxy -c, nginx -t, nft -c,
// keepalived -t, promtool, amtool, systemd-analyze verify, mariadbd --help), each also shown failing on a
// broken copy, so a pass means something. A host's directory mirrors its filesystem; each check runs on a
// sandbox copy whose absolute /etc, /var and /run paths point into the sandbox, where the files the
// operator would provide (certificates, credentials) are made up: nothing on this machine is touched.
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveInventory } from '../../packages/cluster/src/render/inventory.js';
import { renderHosts } from '../../packages/cluster/src/render/render-hosts.js';
import { writeRendering } from '../../packages/cluster/src/render/write-rendering.js';
import { selfSigned } from '../support/certificates.js';
import { run } from './support/run.js';

const EXAMPLE = fileURLToPath(new URL('../../packages/cluster/examples/hosts.example.json', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'rwsplit-validators-'));

async function onPath(binary: string): Promise<boolean> {
  return (await run('sh', ['-c', `command -v ${binary} || test -x /usr/sbin/${binary}`])).code === 0;
}

/** Renders `raw` (the example inventory, changed) into `<work>/<name>`. */
function render(name: string, edit: (raw: Record<string, unknown>) => void = () => {}): string {
  const raw = JSON.parse(readFileSync(EXAMPLE, 'utf8')) as Record<string, unknown>;
  // The failover program must exist for systemd-analyze verify: any executable will do.
  raw.failover = { ...(raw.failover as object), command: [process.execPath, '/opt/rwsplit-failover/cli.js'] };
  edit(raw);
  const out = join(work, name);
  writeRendering(out, renderHosts(resolveInventory(raw)));
  return out;
}

/** A copy of one host's tree whose `files` (host paths) name paths inside the copy instead of `/`. */
function sandbox(out: string, host: string, files: readonly string[]): string {
  const root = mkdtempSync(join(work, `${host}-`));
  cpSync(join(out, host), root, { recursive: true });
  for (const file of files) {
    const path = join(root, file);
    const text = readFileSync(path, 'utf8').replace(/(^|[\s=:'"])\/(etc|var|run)\//g, `$1${root}/$2/`);
    writeFileSync(path, text);
  }
  return root;
}

/** A copy of `path` with `edit` applied: the negative case. */
function broken(path: string, edit: (text: string) => string): string {
  const copy = `${path}.broken`;
  const text = readFileSync(path, 'utf8');
  const changed = edit(text);
  expect(changed).not.toBe(text);
  writeFileSync(copy, changed);
  return copy;
}

function put(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
}

let out = '';
let pem = { certificate: '', key: '' };

beforeAll(async () => {
  out = render('mariadb');
  const made = await selfSigned(work, 'rwsplit.example.com');
  pem = { certificate: made.certificatePem, key: readFileSync(made.keyFile, 'utf8') };
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('rendered host files pass their validators', () => {
  it('haproxy -c accepts each LB config (with the stats password in the environment) and refuses a broken one', async () => {
    for (const host of ['lb-1', 'lb-2']) {
      const root = sandbox(out, host, ['etc/haproxy/haproxy.cfg']);
      put(join(root, 'etc/haproxy/tls/rwsplit.pem'), pem.certificate + pem.key);
      mkdirSync(join(root, 'run/haproxy'), { recursive: true });
      const env = { ...process.env, RWSPLIT_STATS_PASSWORD: 'checked-here-only' };
      const config = join(root, 'etc/haproxy/haproxy.cfg');
      const ok = await run('haproxy', ['-c', '-f', config], env);
      expect(ok.code, ok.output).toBe(0);
      const bad = await run(
        'haproxy',
        ['-c', '-f', broken(config, (t) => t.replace('balance roundrobin', 'balance roundrobbin'))],
        env,
      );
      expect(bad.code, bad.output).not.toBe(0);
      expect(bad.output).toContain('balance only supports');
      // Without the password HAProxy refuses to start: an empty one would let any password in.
      const unset = await run('haproxy', ['-c', '-f', config], {
        ...process.env,
        RWSPLIT_STATS_PASSWORD: '',
      });
      expect(unset.code, unset.output).not.toBe(0);
      expect(unset.output).toContain('RWSPLIT_STATS_PASSWORD is empty or unset');
    }
  });

  it('nginx -t accepts each server config on its own address and refuses a broken one', async (context) => {
    // nginx -t binds the listeners: in a network namespace of its own, holding the server's address.
    if ((await run('unshare', ['-n', 'true'])).code !== 0) {
      context.skip('unshare -n (root) is needed to give nginx -t the server address');
    }
    for (const [host, address] of [
      ['server-1', '198.18.10.21'],
      ['server-2', '198.18.10.22'],
    ] as const) {
      const root = sandbox(out, host, ['etc/nginx/nginx.conf']);
      for (const dir of ['var/log/nginx', 'var/lib/nginx', 'run'])
        mkdirSync(join(root, dir), { recursive: true });
      const test = (config: string) =>
        run('unshare', [
          '-n',
          'sh',
          '-c',
          `ip link set lo up && ip address add ${address}/32 dev lo && nginx -t -c "$0" -p "$1" -e "$1/var/log/nginx/error.log"`,
          config,
          root,
        ]);
      const config = join(root, 'etc/nginx/nginx.conf');
      const ok = await test(config);
      expect(ok.code, ok.output).toBe(0);
      expect(ok.output).toContain('test is successful');
      const bad = await test(broken(config, (t) => t.replace('keepalive 32;', 'keepalive 32')));
      expect(bad.code, bad.output).not.toBe(0);
    }
  });

  it('nft -c accepts every host firewall and refuses a broken one', async () => {
    for (const host of readdirSync(out)) {
      const file = join(out, host, 'etc/nftables.conf');
      const ok = await run('nft', ['-c', '-f', file]);
      expect(ok.code, `${host}: ${ok.output}`).toBe(0);
    }
    const bad = await run('nft', [
      '-c',
      '-f',
      broken(join(out, 'db-1/etc/nftables.conf'), (t) => t.replace('policy drop', 'policy dorp')),
    ]);
    expect(bad.code, bad.output).not.toBe(0);
  });

  it('keepalived --config-test accepts each LB of the pair and refuses a broken one', async () => {
    for (const host of ['lb-1', 'lb-2']) {
      const root = sandbox(out, host, ['etc/keepalived/keepalived.conf']);
      // Its notify hook must be root's and not writable by others (enable_script_security).
      const notify = readFileSync(join(root, 'etc/keepalived/rwsplit-notify.sh'), 'utf8');
      expect(notify.startsWith('#!/bin/sh')).toBe(true);
      const config = join(root, 'etc/keepalived/keepalived.conf');
      const ok = await run('keepalived', ['--config-test', '-f', config]);
      expect(ok.code, ok.output).toBe(0);
      const bad = await run('keepalived', [
        '--config-test',
        '-f',
        broken(config, (t) => t.replace('nopreempt', 'nopreempt\n    bogus_keyword 1')),
      ]);
      expect(bad.code, bad.output).not.toBe(0);
      expect(bad.output).toContain("Unknown keyword 'bogus_keyword'");
    }
  });

  it('promtool accepts Prometheus config, its production rules and the web config once the hash is in', async () => {
    const root = sandbox(out, 'monitoring', ['etc/prometheus/prometheus.yml']);
    put(join(root, 'etc/rwsplit/tls/ca.pem'), pem.certificate);
    put(join(root, 'run/credentials/prometheus.service/monitoring-password'), 'checked-here-only');
    const config = join(root, 'etc/prometheus/prometheus.yml');
    const ok = await run('promtool', ['check', 'config', config]);
    expect(ok.code, ok.output).toBe(0);
    expect(ok.output).toMatch(/SUCCESS: \d+ rules found/);
    const rules = join(root, 'etc/prometheus/rules/rwsplit-alerts.yml');
    expect((await run('promtool', ['check', 'rules', rules])).code).toBe(0);
    const badConfig = await run('promtool', [
      'check',
      'config',
      broken(config, (t) => t.replace('scrape_interval: 15s', 'scrape_interval: fifteen')),
    ]);
    expect(badConfig.code, badConfig.output).not.toBe(0);
    const badRules = await run('promtool', [
      'check',
      'rules',
      broken(rules, (t) => t.replace('expr: up{job="haproxy"} == 0', 'expr: up{job="haproxy" == 0')),
    ]);
    expect(badRules.code, badRules.output).not.toBe(0);
    // The web config's skeleton is refused until the operator puts the bcrypt hash in.
    const skeleton = join(root, 'etc/rwsplit/secrets/prometheus-web.yml.example');
    expect((await run('promtool', ['check', 'web-config', skeleton])).code).not.toBe(0);
    const hash = await run('sh', ['-c', 'printf checked | htpasswd -niB -C 4 monitoring | cut -d: -f2-']);
    const completed = join(root, 'etc/rwsplit/secrets/prometheus-web.yml');
    writeFileSync(
      completed,
      readFileSync(skeleton, 'utf8').replace('REPLACE-WITH-BCRYPT-HASH', hash.output.trim()),
    );
    const web = await run('promtool', ['check', 'web-config', completed]);
    expect(web.code, web.output).toBe(0);
  });

  it('amtool check-config accepts the Alertmanager config and refuses a broken one', async () => {
    const config = join(out, 'monitoring/etc/prometheus/alertmanager.yml');
    const ok = await run('amtool', ['check-config', config]);
    expect(ok.code, ok.output).toBe(0);
    const bad = await run('amtool', [
      'check-config',
      broken(config, (t) => t.replace('receiver: rwsplit', 'receiver: nobody')),
    ]);
    expect(bad.code, bad.output).not.toBe(0);
  });

  it('the blackbox exporter accepts its config and refuses a broken one', async () => {
    const root = sandbox(out, 'monitoring', ['etc/prometheus/blackbox.yml']);
    put(join(root, 'etc/rwsplit/tls/ca.pem'), pem.certificate);
    const config = join(root, 'etc/prometheus/blackbox.yml');
    const ok = await run('prometheus-blackbox-exporter', ['--config.check', `--config.file=${config}`]);
    expect(ok.code, ok.output).toBe(0);
    const bad = await run('prometheus-blackbox-exporter', [
      '--config.check',
      `--config.file=${broken(config, (t) => t.replace('timeout: 2s', 'timeout: soon'))}`,
    ]);
    expect(bad.code, bad.output).not.toBe(0);
  });

  it('mariadbd accepts each node my.cnf (with its sizing include) and refuses an unknown option', async () => {
    for (const host of ['db-1', 'db-2', 'db-3']) {
      const root = sandbox(out, host, ['etc/mysql/my.cnf']);
      for (const dir of ['var/lib/mysql', 'var/lib/mysql-files', 'var/lib/mysql-tmp']) {
        mkdirSync(join(root, dir), { recursive: true });
      }
      const config = join(root, 'etc/mysql/my.cnf');
      const ok = await run('mariadbd', [`--defaults-file=${config}`, '--help', '--verbose']);
      expect(ok.code, ok.output).toBe(0);
      expect(ok.output).toMatch(new RegExp(`^server-id\\s+${host.slice(-1)}$`, 'm'));
      expect(ok.output).toMatch(/^innodb-buffer-pool-size\s+1073741824$/m);
      const bad = await run('mariadbd', [
        `--defaults-file=${broken(config, (t) => t.replace('skip-name-resolve', 'skip-name-resolv3'))}`,
        '--help',
        '--verbose',
      ]);
      expect(bad.code, bad.output).not.toBe(0);
      expect(bad.output).toContain("unknown option '--skip-name-resolv3'");
    }
  });

  it('my_print_defaults reads the MySQL 8.4 my.cnf (no MySQL server here) and refuses a broken one', async () => {
    const mysql = render('mysql', (raw) => Object.assign(raw.cluster as object, { flavor: 'mysql' }));
    const root = sandbox(mysql, 'db-2', ['etc/mysql/my.cnf']);
    const config = join(root, 'etc/mysql/my.cnf');
    const ok = await run('my_print_defaults', [`--defaults-file=${config}`, 'mysqld']);
    expect(ok.code, ok.output).toBe(0);
    expect(ok.output).toContain('--gtid-mode=ON');
    expect(ok.output).toContain('--innodb-buffer-pool-size=1G');
    const bad = await run('my_print_defaults', [
      `--defaults-file=${broken(config, (t) => `port = 1\n${t}`)}`,
      'mysqld',
    ]);
    expect(bad.code, bad.output).not.toBe(0);
  });

  it('systemd-analyze verify accepts every unit and refuses one whose program is missing', async (context) => {
    if (!(await onPath('systemd-analyze')))
      context.skip('systemd-analyze is not installed (package systemd)');
    for (const host of readdirSync(out)) {
      const dir = join(out, host, 'etc/systemd/system');
      const units = readdirSync(dir).map((unit) => join(dir, unit));
      const ok = await run('systemd-analyze', ['verify', ...units]);
      expect(ok.code, `${host}: ${ok.output}`).toBe(0);
      expect(ok.output, host).not.toMatch(/Unknown key|Failed to parse|bad unit file/i);
    }
    const unit = join(out, 'lb-1/etc/systemd/system/haproxy.service');
    const copy = join(work, 'broken-units', 'haproxy.service');
    put(
      copy,
      readFileSync(unit, 'utf8').replace('ExecStart=/usr/sbin/haproxy', 'ExecStart=/usr/sbin/haproxyy'),
    );
    const bad = await run('systemd-analyze', ['verify', copy]);
    expect(bad.code, bad.output).not.toBe(0);
    expect(bad.output).toContain('/usr/sbin/haproxyy');
  });

  it('renders nothing that needs a file outside the host tree except what the README lists', () => {
    // Every host says which secret files to create, and each example it names exists beside it.
    for (const host of readdirSync(out)) {
      const secrets = join(out, host, 'etc/rwsplit/secrets');
      const readme = readFileSync(join(secrets, 'README'), 'utf8');
      for (const example of readdirSync(secrets).filter((f) => f.endsWith('.example'))) {
        expect(readme, host).toContain(`- ${example.replace(/\.example$/, '')}:`);
      }
      expect(existsSync(join(out, host, 'etc/nftables.conf'))).toBe(true);
    }
  });
});
