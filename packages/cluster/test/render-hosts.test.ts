import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '@rwsplit/failover';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { inboundRules } from '../src/render/host-firewall.js';
import { type Inventory, resolveInventory } from '../src/render/inventory.js';
import { runRenderCommand } from '../src/render/render-command.js';
import { type Rendering, renderHosts } from '../src/render/render-hosts.js';
import { secretDirs, writeRendering } from '../src/render/write-rendering.js';

const EXAMPLE_FILE = new URL('../examples/hosts.example.json', import.meta.url);
const EXAMPLE = JSON.parse(readFileSync(EXAMPLE_FILE, 'utf8')) as Record<string, unknown> & {
  hosts: Record<string, unknown>[];
  cluster: Record<string, unknown>;
};

function resolved(edit: (raw: typeof EXAMPLE) => void = () => {}): Inventory {
  const raw = structuredClone(EXAMPLE);
  edit(raw);
  return resolveInventory(raw);
}

const work = mkdtempSync(join(tmpdir(), 'rwsplit-render-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function filesOf(rendering: Rendering, host: string): string[] {
  return [...rendering.keys()]
    .filter((path) => path.startsWith(`${host}/`))
    .map((path) => path.slice(host.length))
    .sort();
}

function text(rendering: Rendering, path: string): string {
  const file = rendering.get(path);
  if (file === undefined) throw new Error(`${path} was not rendered`);
  return file.content;
}

describe('renderHosts', () => {
  const rendering = renderHosts(resolved());

  it('gives an LB of the pair HAProxy, keepalived, its notify hook and the VRRP exporter', () => {
    expect(filesOf(rendering, 'lb-1')).toEqual([
      '/etc/haproxy/haproxy.cfg',
      '/etc/keepalived/keepalived.conf',
      '/etc/keepalived/rwsplit-notify.sh',
      '/etc/nftables.conf',
      '/etc/rwsplit/secrets/README',
      '/etc/rwsplit/secrets/haproxy.env.example',
      '/etc/sysctl.d/60-rwsplit-lb.conf',
      '/etc/systemd/system/haproxy.service',
      '/etc/systemd/system/keepalived.service',
      '/etc/systemd/system/prometheus-node-exporter.service',
    ]);
    const haproxy = text(rendering, 'lb-1/etc/haproxy/haproxy.cfg');
    expect(haproxy).toContain('bind 198.18.10.10:443 ssl crt /etc/haproxy/tls/rwsplit.pem');
    expect(haproxy).toContain('bind 198.18.10.11:8404 ssl crt');
    expect(haproxy).toContain('server server-1 198.18.10.21:8080\n    server server-2 198.18.10.22:8080\n');
    expect(haproxy).toContain('redirect location https://rwsplit.example.com%[pathq]');
    const keepalived = text(rendering, 'lb-2/etc/keepalived/keepalived.conf');
    expect(keepalived).toMatch(/priority 253\n/);
    expect(keepalived).toContain('unicast_src_ip 198.18.10.12');
    expect(keepalived).toMatch(/unicast_peer \{\n\s+198\.18\.10\.11\n/);
    expect(text(rendering, 'lb-1/etc/systemd/system/keepalived.service')).toContain(
      'ExecStopPost=-/usr/sbin/ip address del 198.18.10.10/24 dev eth0',
    );
    expect(rendering.get('lb-1/etc/keepalived/rwsplit-notify.sh')?.mode).toBe(0o755);
  });

  it('gives a lone LB HAProxy on its own address and no keepalived', () => {
    const one = renderHosts(
      resolved((raw) => {
        raw.hosts.splice(1, 1);
        raw.lb = { certificate: '/etc/haproxy/tls/rwsplit.pem', httpsPort: 8443 };
      }),
    );
    expect(filesOf(one, 'lb-1').filter((path) => /keepalived|sysctl|node-exporter/.test(path))).toEqual([]);
    const haproxy = text(one, 'lb-1/etc/haproxy/haproxy.cfg');
    expect(haproxy).toContain('bind 198.18.10.11:8443 ssl crt');
    expect(haproxy).toContain('https://rwsplit.example.com:8443%[pathq]');
  });

  it('makes every server after the first a backup in active-passive mode', () => {
    const passive = renderHosts(
      resolved((raw) => Object.assign(raw.lb as object, { mode: 'active-passive' })),
    );
    expect(text(passive, 'lb-1/etc/haproxy/haproxy.cfg')).toContain(
      'server server-1 198.18.10.21:8080\n    server server-2 198.18.10.22:8080 backup\n',
    );
  });

  it('gives a server Nginx, the app, its exporter and a failover manager', () => {
    expect(filesOf(rendering, 'server-2')).toEqual([
      '/etc/nftables.conf',
      '/etc/nginx/nginx.conf',
      '/etc/rwsplit/failover/assemble-config.mjs',
      '/etc/rwsplit/failover/manager.json',
      '/etc/rwsplit/secrets/README',
      '/etc/rwsplit/secrets/app.env.example',
      '/etc/systemd/system/nginx.service',
      '/etc/systemd/system/prometheus-nginx-exporter.service',
      '/etc/systemd/system/rwsplit-app.service',
      '/etc/systemd/system/rwsplit-failover.service',
    ]);
    const nginx = text(rendering, 'server-2/etc/nginx/nginx.conf');
    expect(nginx).toContain('listen 198.18.10.22:8080;');
    expect(nginx).toContain('server 198.18.10.22:3000 max_fails=0;');
    expect(nginx).toContain('root /opt/rwsplit/examples/notes-app/public;');
    expect(nginx).toContain('location ~* ^/internal/status/?$');
    const app = text(rendering, 'server-2/etc/systemd/system/rwsplit-app.service');
    expect(app).toContain('Environment="DB_PRIMARY=198.18.10.31:3306"');
    expect(app).toContain('Environment="DB_REPLICAS=198.18.10.32:3306,198.18.10.33:3306"');
    expect(app).toContain('ExecStart=/usr/bin/node --conditions=source --import tsx src/main.ts');
    expect(app).toContain('EnvironmentFile=/etc/rwsplit/secrets/app.env');
  });

  it('gives a database node my.cnf, its sizing, its unit and mysqld_exporter', () => {
    expect(filesOf(rendering, 'db-2')).toEqual([
      '/etc/mysql/my.cnf',
      '/etc/mysql/rwsplit.conf.d/50-sizing.cnf',
      '/etc/nftables.conf',
      '/etc/rwsplit/secrets/README',
      '/etc/rwsplit/secrets/mysqld-exporter.cnf.example',
      '/etc/systemd/system/mariadb.service',
      '/etc/systemd/system/prometheus-mysqld-exporter.service',
    ]);
    const cnf = text(rendering, 'db-2/etc/mysql/my.cnf');
    expect(cnf).toContain('[mariadbd]');
    expect(cnf).toMatch(/server-id\s+= 2\n/);
    expect(cnf).toMatch(/bind-address\s+= 198\.18\.10\.32\n/);
    expect(cnf).toMatch(/datadir\s+= \/var\/lib\/mysql\n/);
    // Managed by the failover managers: read-only at start, the primary too.
    expect(text(rendering, 'db-1/etc/mysql/my.cnf')).toMatch(/read-only\s+= ON\n/);
    expect(cnf.trimEnd().endsWith('!includedir /etc/mysql/rwsplit.conf.d/')).toBe(true);
  });

  it('renders MySQL 8.4 nodes from the MySQL template, with GTID auto-positioning and its unit', () => {
    const mysql = renderHosts(resolved((raw) => Object.assign(raw.cluster, { flavor: 'mysql' })));
    const cnf = text(mysql, 'db-1/etc/mysql/my.cnf');
    expect(cnf).toContain('[mysqld]');
    expect(cnf).toMatch(/gtid-mode\s+= ON\n/);
    expect(cnf).toMatch(/enforce-gtid-consistency\s+= ON\n/);
    expect(cnf).toContain('plugin-load-add          = semisync_source.so');
    expect(cnf).toMatch(/super-read-only\s+= ON\n/);
    expect(cnf).not.toMatch(/mariadbd|gtid-strict-mode|slave-|init-rpl-role|rpl_semi_sync_master/);
    expect(text(mysql, 'db-1/etc/mysql/rwsplit.conf.d/50-sizing.cnf')).toContain('[mysqld]');
    expect(text(mysql, 'db-1/etc/systemd/system/mysql.service')).toContain(
      'ExecStart=/usr/sbin/mysqld --defaults-file=/etc/mysql/my.cnf',
    );
    expect(filesOf(mysql, 'db-1')).not.toContain('/etc/systemd/system/mariadb.service');
  });

  it('gives the monitoring host Prometheus with the production rules, Alertmanager and the exporters', () => {
    expect(filesOf(rendering, 'monitoring')).toEqual([
      '/etc/nftables.conf',
      '/etc/prometheus/alertmanager.yml',
      '/etc/prometheus/blackbox.yml',
      '/etc/prometheus/prometheus.yml',
      '/etc/prometheus/rules/rwsplit-alerts.yml',
      '/etc/rwsplit/secrets/README',
      '/etc/rwsplit/secrets/prometheus-web.yml.example',
      '/etc/systemd/system/prometheus-alertmanager.service',
      '/etc/systemd/system/prometheus-blackbox-exporter.service',
      '/etc/systemd/system/prometheus-node-exporter.service',
      '/etc/systemd/system/prometheus.service',
    ]);
    const prometheus = text(rendering, 'monitoring/etc/prometheus/prometheus.yml');
    for (const target of [
      '198.18.10.11:8404',
      '198.18.10.22:3000',
      '198.18.10.21:9113',
      '198.18.10.21:7301',
      '198.18.10.33:9104',
      '198.18.10.12:9100',
    ]) {
      expect(prometheus).toContain(`'${target}'`);
    }
    expect(prometheus).toContain("- targets: ['https://rwsplit.example.com/']");
    const rules = text(rendering, 'monitoring/etc/prometheus/rules/rwsplit-alerts.yml');
    expect(rules).not.toContain('# prod:');
    expect(rules).toContain('for: 1m');
    expect(text(rendering, 'monitoring/etc/prometheus/alertmanager.yml')).toContain(
      "url: 'https://alerts.example.com/rwsplit'",
    );
  });

  it('writes each manager the failover format, which @rwsplit/failover accepts once the assembler adds the secrets', () => {
    const dir = join(work, 'assemble');
    const credentials = join(dir, 'credentials');
    mkdirSync(credentials, { recursive: true });
    const pem = (kind: string) => `-----BEGIN ${kind}-----\nAAAA\n-----END ${kind}-----\n`;
    writeFileSync(join(dir, 'ca.pem'), pem('CERTIFICATE'));
    writeFileSync(join(dir, 'host.pem'), pem('CERTIFICATE'));
    writeFileSync(join(credentials, 'api-key'), pem('PRIVATE KEY'));
    writeFileSync(join(credentials, 'password'), 'failover-secret\n');
    writeFileSync(join(credentials, 'replication-password'), 'replication-secret\n');
    writeFileSync(join(credentials, 'token'), 'a-token-of-24-characters\n');
    const publicConfig = JSON.parse(text(rendering, 'server-1/etc/rwsplit/failover/manager.json'));
    expect(Object.keys(publicConfig)).not.toContain('password');
    expect(Object.keys(publicConfig)).not.toContain('token');
    publicConfig.tls.ca = join(dir, 'ca.pem');
    publicConfig.api.certificate = join(dir, 'host.pem');
    writeFileSync(join(dir, 'manager.json'), JSON.stringify(publicConfig));
    writeFileSync(
      join(dir, 'assemble.mjs'),
      text(rendering, 'server-1/etc/rwsplit/failover/assemble-config.mjs'),
    );
    execFileSync(process.execPath, [
      join(dir, 'assemble.mjs'),
      join(dir, 'manager.json'),
      credentials,
      join(dir, 'full.json'),
    ]);
    expect(statSync(join(dir, 'full.json')).mode & 0o777).toBe(0o600);
    const config = resolveConfig(JSON.parse(readFileSync(join(dir, 'full.json'), 'utf8')));
    expect(config).toMatchObject({
      id: 'server-1',
      password: 'failover-secret',
      replication: { user: 'rwsplit_repl', password: 'replication-secret' },
      token: 'a-token-of-24-characters',
      cooldownMs: 60_000,
      semiSync: { enabled: true, timeoutMs: 1_000, whenNoAck: 'async' },
    });
    expect(config.nodes.map((node) => node.name)).toEqual(['db-1', 'db-2', 'db-3']);
    expect(config.managers.map((manager) => manager.url)).toEqual([
      'https://198.18.10.21:7301',
      'https://198.18.10.22:7301',
    ]);
  });
});

describe('host firewalls', () => {
  const rules = inboundRules(resolved());
  const summary = (host: string) =>
    (rules.get(host) ?? []).map((rule) => ({ from: rule.from, ports: rule.vrrp ? 'vrrp' : rule.tcpPorts }));
  const operators = ['198.18.0.0/24'];
  const monitoring = ['198.18.10.41'];
  const servers = ['198.18.10.21', '198.18.10.22'];

  it('lets into an LB the public, the other LB (VRRP), monitoring and operators only', () => {
    expect(summary('lb-1')).toEqual([
      { from: operators, ports: [22] },
      { from: 'anywhere', ports: [80, 443] },
      { from: ['198.18.10.12'], ports: 'vrrp' },
      { from: monitoring, ports: [8404, 9100] },
    ]);
  });

  it('lets into a server Nginx from the LBs, metrics from monitoring, the manager from its peer', () => {
    expect(summary('server-1')).toEqual([
      { from: operators, ports: [22] },
      { from: ['198.18.10.11', '198.18.10.12'], ports: [8080] },
      { from: monitoring, ports: [3000, 9113] },
      { from: ['198.18.10.22', ...monitoring], ports: [7301] },
    ]);
  });

  it('lets into a database node SQL from the servers and the other nodes, the exporter from monitoring', () => {
    expect(summary('db-2')).toEqual([
      { from: operators, ports: [22] },
      { from: [...servers, '198.18.10.31', '198.18.10.33'], ports: [3306] },
      { from: monitoring, ports: [9104] },
    ]);
  });

  it('lets into the monitoring host Alertmanager from the servers and the UIs from operators', () => {
    expect(summary('monitoring')).toEqual([
      { from: operators, ports: [22] },
      { from: servers, ports: [9093] },
      { from: operators, ports: [9090, 9093] },
    ]);
  });

  it('renders the rules into a default-drop table that replaces only its own', () => {
    const nft = text(renderHosts(resolved()), 'db-1/etc/nftables.conf');
    expect(nft.startsWith('#!/usr/sbin/nft -f\n')).toBe(true);
    expect(nft).toContain('table inet rwsplit\ndelete table inet rwsplit\n');
    expect(nft).toContain('policy drop;');
    expect(nft).toContain(
      'ip saddr { 198.18.10.21, 198.18.10.22, 198.18.10.32, 198.18.10.33 } tcp dport 3306 accept comment "SQL: apps, failover managers, replication"',
    );
    expect(nft.match(/ accept comment /g)).toHaveLength(4);
  });

  it('gives a host with two roles the rules of both', () => {
    const combined = inboundRules(
      resolved((raw) => {
        raw.hosts.pop();
        Object.assign(raw.hosts[6]!, { roles: ['db', 'monitoring'] });
      }),
    );
    const ports = (combined.get('db-3') ?? []).map((rule) => rule.tcpPorts);
    expect(ports).toEqual([[22], [3306], [9104], [9093], [9090, 9093]]);
  });
});

describe('secrets', () => {
  const SENTINELS = {
    RWSPLIT_STATS_PASSWORD: 'sentinel-stats-7f3a',
    DB_PASSWORD: 'sentinel-app-91c2',
    MYSQL_ROOT_PASSWORD: 'sentinel-root-55d0',
  };

  it('never appear in a rendered file, whatever the environment holds', () => {
    for (const [name, value] of Object.entries(SENTINELS)) vi.stubEnv(name, value);
    try {
      for (const flavor of ['mariadb', 'mysql']) {
        const rendering = renderHosts(resolved((raw) => Object.assign(raw.cluster, { flavor })));
        for (const [path, file] of rendering) {
          for (const value of Object.values(SENTINELS)) expect(file.content, path).not.toContain(value);
          expect(file.content, path).not.toMatch(/IDENTIFIED BY|MASTER_PASSWORD|SOURCE_PASSWORD/);
          // A `password` setting holds a marker or a reference, never a value.
          if (path.endsWith('/README')) continue;
          const settings = file.content.replace(/^\s*(#|--|\/\/).*$/gm, '');
          for (const [, value] of settings.matchAll(/password[ \t]*[=:][ \t]*(\S*)/gi)) {
            expect(value, path).toMatch(
              /^($|<|REPLACE-WITH-|secret\(|\/etc\/rwsplit\/secrets\/|'\/run\/credentials\/|"\$\{)/,
            );
          }
        }
      }
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('are read by systemd from the secrets directory, each as a reference', () => {
    const rendering = renderHosts(resolved());
    expect(text(rendering, 'lb-1/etc/haproxy/haproxy.cfg')).toContain(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: compose's and HAProxy's own ${VAR} syntax, not a template
      'stats auth admin:"${RWSPLIT_STATS_PASSWORD}"',
    );
    expect(text(rendering, 'lb-1/etc/systemd/system/haproxy.service')).toContain(
      'EnvironmentFile=/etc/rwsplit/secrets/haproxy.env',
    );
    expect(text(rendering, 'db-1/etc/systemd/system/prometheus-mysqld-exporter.service')).toContain(
      'LoadCredential=my.cnf:/etc/rwsplit/secrets/mysqld-exporter.cnf',
    );
    const failover = text(rendering, 'server-1/etc/systemd/system/rwsplit-failover.service');
    expect(failover).toContain('LoadCredential=token:/etc/rwsplit/secrets/failover-token');
    expect(failover).toContain(
      'ExecStart=/usr/local/bin/rwsplit-failover run --config %t/rwsplit-failover/manager.json',
    );
    expect(text(rendering, 'server-1/etc/rwsplit/secrets/README')).toContain('- failover-token:');
  });

  it('skeletons are 0600 and their directories 0700 once written, scripts 0755, the rest 0644', () => {
    const inventory = resolved();
    const rendering = renderHosts(inventory);
    const out = join(work, 'written');
    writeRendering(out, rendering, secretDirs(['lb-1', 'db-1'], inventory.cluster.secretsDir));
    const mode = (path: string) => statSync(join(out, path)).mode & 0o777;
    expect(mode('lb-1/etc/rwsplit/secrets/haproxy.env.example')).toBe(0o600);
    expect(mode('db-1/etc/rwsplit/secrets/mysqld-exporter.cnf.example')).toBe(0o600);
    expect(mode('lb-1/etc/rwsplit/secrets')).toBe(0o700);
    expect(mode('lb-1/etc/keepalived/rwsplit-notify.sh')).toBe(0o755);
    expect(mode('lb-1/etc/haproxy/haproxy.cfg')).toBe(0o644);
    for (const [path, file] of rendering) {
      if (path.includes('/etc/rwsplit/secrets/') && path.endsWith('.example'))
        expect(file.mode, path).toBe(0o600);
    }
  });
});

describe('runRenderCommand', () => {
  const quiet = () => {
    const errors: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((line: string) => void errors.push(line));
    vi.spyOn(console, 'log').mockImplementation(() => {});
    return errors;
  };

  it('writes every host directory and answers 0', async () => {
    quiet();
    const out = join(work, 'command');
    try {
      expect(await runRenderCommand(['--inventory', EXAMPLE_FILE.pathname, '--out', out])).toBe(0);
    } finally {
      vi.restoreAllMocks();
    }
    expect(readFileSync(join(out, 'db-3/etc/mysql/my.cnf'), 'utf8')).toContain('198.18.10.33');
    expect(statSync(join(out, 'monitoring/etc/rwsplit/secrets')).mode & 0o777).toBe(0o700);
  });

  it('answers 1 naming the field and the file for an invalid inventory, 2 for a usage error', async () => {
    const errors = quiet();
    const bad = join(work, 'bad.json');
    const raw = structuredClone(EXAMPLE);
    Object.assign(raw.hosts[2]!, { address: 'x' });
    writeFileSync(bad, JSON.stringify(raw));
    try {
      expect(await runRenderCommand(['--inventory', bad, '--out', join(work, 'bad-out')])).toBe(1);
      expect(await runRenderCommand(['--inventory', bad])).toBe(2);
      expect(await runRenderCommand(['--bogus'])).toBe(2);
    } finally {
      vi.restoreAllMocks();
    }
    expect(errors[0]).toBe(
      `rwsplit-cluster render: hosts[2].address: expected an IPv4 address such as "198.18.10.21", got "x" (in ${bad})`,
    );
  });

  it('refuses to write into a directory that is not empty without --force', async () => {
    const errors = quiet();
    const out = join(work, 'full');
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'other'), '');
    try {
      expect(await runRenderCommand(['--inventory', EXAMPLE_FILE.pathname, '--out', out])).toBe(1);
      expect(await runRenderCommand(['--inventory', EXAMPLE_FILE.pathname, '--out', out, '--force'])).toBe(0);
    } finally {
      vi.restoreAllMocks();
    }
    expect(errors[0]).toContain('is not empty: pass --force');
  });
});
