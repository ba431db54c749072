import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderCompose } from '../src/render/render-compose.js';

const rendering = renderCompose();
const work = mkdtempSync(join(tmpdir(), 'rwsplit-compose-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function text(path: string): string {
  const file = rendering.get(path);
  if (file === undefined) throw new Error(`${path} was not rendered`);
  return file.content;
}

/** compose.yml's services, each with its lines (the file is rendered: two-space YAML). */
function services(): Map<string, string> {
  const body = text('compose.yml')
    .split(/^services:\n/m)[1]!
    .split(/^\S/m)[0]!;
  const blocks = new Map<string, string>();
  for (const block of body.split(/^(?= {2}\S+:$)/m)) {
    const name = /^ {2}(\S+):$/m.exec(block)?.[1];
    if (name !== undefined) blocks.set(name, block);
  }
  return blocks;
}

/** Sources a rendered first-start script in bash with a stand-in for the image's docker_process_sql. */
function firstStart(path: string, version: string, env: Record<string, string>) {
  const script = join(work, path.replaceAll('/', '_'));
  writeFileSync(script, text(path));
  const fake = `docker_process_sql() { if [ "$1" = -N ]; then cat >/dev/null; echo '${version}'; else cat; fi; }`;
  return spawnSync('bash', ['-c', `${fake}; . "$0"; echo sourced`, script], { env, encoding: 'utf8' });
}

const PASSWORDS = {
  RWSPLIT_APP_PASSWORD: 'app-pw-1',
  RWSPLIT_MONITOR_PASSWORD: 'monitor-pw-2',
  RWSPLIT_REPLICATION_PASSWORD: 'repl-pw-3',
};

describe('renderCompose', () => {
  it('renders compose.yml, HAProxy, both Nginx and each flavour of both nodes', () => {
    expect([...rendering.keys()].sort()).toEqual([
      'compose.yml',
      'config/haproxy/haproxy.cfg',
      'config/mariadb/db-primary/initdb/10-rwsplit.sh',
      'config/mariadb/db-primary/my.cnf',
      'config/mariadb/db-replica/initdb/10-rwsplit.sh',
      'config/mariadb/db-replica/my.cnf',
      'config/mariadb/healthcheck.sh',
      'config/mysql/db-primary/initdb/10-rwsplit.sh',
      'config/mysql/db-primary/my.cnf',
      'config/mysql/db-replica/initdb/10-rwsplit.sh',
      'config/mysql/db-replica/my.cnf',
      'config/mysql/healthcheck.sh',
      'config/server-1/nginx.conf',
      'config/server-2/nginx.conf',
    ]);
    // Sourced by the entrypoints (an executable one would run without docker_process_sql).
    expect(rendering.get('config/mysql/db-primary/initdb/10-rwsplit.sh')?.mode).toBe(0o644);
  });

  it('gives every service a health check and makes each wait for what it needs to be healthy', () => {
    const all = services();
    expect([...all.keys()]).toEqual([
      'db-primary',
      'db-replica',
      'app-1',
      'nginx-1',
      'app-2',
      'nginx-2',
      'haproxy',
    ]);
    for (const [name, block] of all) {
      expect(block, name).toMatch(/ {4}healthcheck:\n(?: {6}(?:#.*|<<: \*db-health)\n)* {6}test: \[/);
      const waits = block.split(/ {4}depends_on:\n/)[1] ?? '';
      for (const [, condition] of waits.matchAll(/condition: (\S+)/g))
        expect(condition, name).toBe('service_healthy');
    }
    const dependsOn = (name: string) =>
      [...(all.get(name)!.split('depends_on:\n')[1] ?? '').matchAll(/^ {6}(\S+):$/gm)].map((m) => m[1]);
    expect(dependsOn('db-replica')).toEqual(['db-primary']);
    expect(dependsOn('app-1')).toEqual(['db-primary', 'db-replica']);
    expect(dependsOn('nginx-2')).toEqual(['app-2']);
    expect(dependsOn('haproxy')).toEqual(['nginx-1', 'nginx-2']);
    expect(all.get('db-replica')).toContain('"/usr/local/bin/rwsplit-healthcheck", "replica"]');
  });

  it('keeps data in named volumes and mounts every config read-only', () => {
    const compose = text('compose.yml');
    expect(compose).toMatch(/^volumes:\n {2}db-primary-data: \{\}\n {2}db-replica-data: \{\}\n/m);
    expect(compose).toContain('- db-primary-data:/var/lib/mysql');
    const mounts = [...compose.matchAll(/^ {6}- (\.\.?\/\S+)$/gm)].map((m) => m[1]);
    expect(mounts.length).toBeGreaterThanOrEqual(9);
    for (const mount of mounts) expect(mount).toMatch(/:ro$/);
    expect(compose).toContain(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: compose's and HAProxy's own ${VAR} syntax, not a template
      './config/${RWSPLIT_DB_FLAVOR:-mysql}/db-primary/my.cnf:/etc/mysql/conf.d/rwsplit.cnf:ro',
    );
    // biome-ignore lint/suspicious/noTemplateCurlyInString: compose's and HAProxy's own ${VAR} syntax, not a template
    expect(compose).toContain('image: ${RWSPLIT_DB_IMAGE:-mysql:8.4}');
  });

  it('holds no secret: passwords are required variables, TLS files compose secrets', () => {
    const compose = text('compose.yml');
    for (const [, name, value] of compose.matchAll(/^ +(\w*PASSWORD\w*): (.*)$/gm)) {
      expect(value, name).toMatch(
        /^\$\{RWSPLIT_\w+_PASSWORD:\?set RWSPLIT_\w+_PASSWORD, see docker\/README\.md\}$/,
      );
    }
    expect(compose).toMatch(/^secrets:\n {2}ca:\n {4}file: \.\/secrets\/ca\.pem\n/m);
    for (const [path, file] of rendering) {
      expect(file.content, path).not.toMatch(/BEGIN [A-Z ]*PRIVATE KEY/);
      for (const [, value] of file.content.matchAll(/(?:PASSWORD|IDENTIFIED BY) *=? *'([^']*)'/g)) {
        expect(value, path).toMatch(/^(\$\{RWSPLIT_\w+\}|\$\(od .*\))$/);
      }
    }
    // biome-ignore lint/suspicious/noTemplateCurlyInString: compose's and HAProxy's own ${VAR} syntax, not a template
    expect(text('config/haproxy/haproxy.cfg')).toContain('stats auth admin:"${RWSPLIT_STATS_PASSWORD}"');
  });

  it('renders the MySQL 8.4 my.cnf with GTIDs, semi-sync plugins and TLS from the secrets', () => {
    const primary = text('config/mysql/db-primary/my.cnf');
    expect(primary).toContain('[mysqld]');
    expect(primary).toMatch(/gtid-mode\s+= ON\n/);
    expect(primary).toMatch(/enforce-gtid-consistency\s+= ON\n/);
    expect(primary).toMatch(/log-replica-updates\s+= ON\n/);
    expect(primary).toMatch(/read-only\s+= OFF\n/);
    expect(primary).toMatch(/bind-address\s+= db-primary\n/);
    expect(primary).toMatch(/ssl-cert\s+= \/run\/secrets\/db-primary-certificate\n/);
    expect(primary).toContain('plugin-load-add          = semisync_replica.so');
    expect(primary).toMatch(/loose-rpl-semi-sync-source-timeout\s+= 1000\n/);
    expect(primary).not.toMatch(/super-read-only|mariadbd|slave-/);
    const replica = text('config/mysql/db-replica/my.cnf');
    expect(replica).toMatch(/read-only\s+= ON\n/);
    expect(replica).toMatch(/server-id\s+= 2\n/);
    expect(text('config/mariadb/db-replica/my.cnf')).toContain('[mariadbd]');
  });

  it('sets up replication per flavour: SOURCE_AUTO_POSITION on MySQL, MASTER_USE_GTID=slave_pos on MariaDB', () => {
    const mysql = firstStart('config/mysql/db-replica/initdb/10-rwsplit.sh', '8.4.6', PASSWORDS);
    expect(mysql.status, mysql.stderr).toBe(0);
    expect(mysql.stdout).toMatch(/^RESET BINARY LOGS AND GTIDS;$/m);
    expect(mysql.stdout).toContain("SOURCE_HOST = 'db-primary'");
    expect(mysql.stdout).toContain("SOURCE_PASSWORD = 'repl-pw-3'");
    expect(mysql.stdout).toContain('SOURCE_AUTO_POSITION = 1');
    expect(mysql.stdout).toContain('SOURCE_SSL_VERIFY_SERVER_CERT = 1');
    expect(mysql.stdout).toMatch(/^START REPLICA;$/m);
    const mariadb = firstStart(
      'config/mariadb/db-replica/initdb/10-rwsplit.sh',
      '10.11.9-MariaDB-ubu2204',
      PASSWORDS,
    );
    expect(mariadb.status, mariadb.stderr).toBe(0);
    expect(mariadb.stdout).toMatch(/^RESET MASTER;$/m);
    expect(mariadb.stdout).toContain('MASTER_USE_GTID = slave_pos');
    expect(mariadb.stdout).toContain("MASTER_SSL_CA = '/run/secrets/ca'");
  });

  it("creates the accounts on the primary, with the shell's passwords and SQL's quoted names intact", () => {
    for (const flavor of ['mysql', 'mariadb']) {
      const version = flavor === 'mysql' ? '8.4.6' : '10.11.9-MariaDB';
      const ran = firstStart(`config/${flavor}/db-primary/initdb/10-rwsplit.sh`, version, PASSWORDS);
      expect(ran.status, ran.stderr).toBe(0);
      expect(ran.stdout).toContain('CREATE DATABASE IF NOT EXISTS `notes`');
      expect(ran.stdout).toContain("CREATE USER 'app'@'%' IDENTIFIED BY 'app-pw-1' REQUIRE SSL;");
      expect(ran.stdout).toContain("CREATE USER 'rwsplit_repl'@'%' IDENTIFIED BY 'repl-pw-3' REQUIRE SSL;");
      expect(ran.stdout).toMatch(/CREATE USER 'rwsplit_exporter'@'localhost' IDENTIFIED BY '[0-9a-f]{36}';/);
      expect(ran.stdout).not.toMatch(/START REPLICA/);
    }
  });

  it('stops a first start on the wrong flavour or a password the SQL cannot hold', () => {
    const wrong = firstStart('config/mysql/db-primary/initdb/10-rwsplit.sh', '10.11.9-MariaDB', PASSWORDS);
    expect(wrong.status).not.toBe(0);
    expect(wrong.stderr).toContain('set RWSPLIT_DB_FLAVOR and RWSPLIT_DB_IMAGE together');
    const quoted = firstStart('config/mariadb/db-primary/initdb/10-rwsplit.sh', '10.11.9-MariaDB', {
      ...PASSWORDS,
      RWSPLIT_APP_PASSWORD: "it's",
    });
    expect(quoted.status).not.toBe(0);
    expect(quoted.stderr).toContain('RWSPLIT_APP_PASSWORD may hold only letters');
    const { RWSPLIT_MONITOR_PASSWORD: _, ...missing } = PASSWORDS;
    expect(firstStart('config/mysql/db-primary/initdb/10-rwsplit.sh', '8.4.6', missing).stderr).toContain(
      'RWSPLIT_MONITOR_PASSWORD is not set',
    );
  });

  it('writes health checks that are valid shell and ask each flavour its own way', () => {
    for (const flavor of ['mysql', 'mariadb']) {
      const script = join(work, `${flavor}-health.sh`);
      writeFileSync(script, text(`config/${flavor}/healthcheck.sh`));
      execFileSync('sh', ['-n', script]);
    }
    expect(text('config/mysql/healthcheck.sh')).toContain(
      'mysql --protocol=tcp -h "$RWSPLIT_NODE_HOST" -u root --ssl-mode=REQUIRED',
    );
    expect(text('config/mariadb/healthcheck.sh')).toContain(
      'mariadb --protocol=tcp -h "$RWSPLIT_NODE_HOST" -u root --ssl',
    );
  });

  it('points HAProxy at both Nginx and each Nginx at its own app, by service name', () => {
    const haproxy = text('config/haproxy/haproxy.cfg');
    expect(haproxy).toContain('server server-1 nginx-1:8080\n    server server-2 nginx-2:8080\n');
    expect(haproxy).toContain('bind :8443 ssl crt /run/secrets/lb-certificate');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: compose's and HAProxy's own ${VAR} syntax, not a template
    expect(haproxy).toContain('redirect location https://"${RWSPLIT_PUBLIC_AUTHORITY}"%[pathq]');
    expect(text('config/server-2/nginx.conf')).toContain('server app-2:3000 max_fails=0;');
    expect(text('config/server-1/nginx.conf')).toContain('root /srv/notes-app/public;');
  });
});
