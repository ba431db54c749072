import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { resolveInventory } from '../src/render/inventory.js';
import { renderHosts } from '../src/render/render-hosts.js';
import {
  expandSpecifiers,
  parseEnvironmentFile,
  parseServiceUnit,
  splitCommandLine,
} from '../src/render/unit-file.js';

const EXAMPLE = JSON.parse(readFileSync(new URL('../examples/hosts.example.json', import.meta.url), 'utf8'));
const rendering = renderHosts(resolveInventory(EXAMPLE));
const unit = (host: string, name: string) => {
  const file = rendering.get(`${host}/etc/systemd/system/${name}`);
  if (file === undefined) throw new Error(`no ${name} on ${host}`);
  return parseServiceUnit(name, file.content);
};

describe('parseServiceUnit on the rendered units', () => {
  it("reads HAProxy's: check first, then the master-worker, as haproxy with port 443's capability", () => {
    const haproxy = unit('lb-1', 'haproxy.service');
    expect(haproxy.execStartPre.map((line) => line.argv)).toEqual([
      ['/usr/sbin/haproxy', '-c', '-q', '-f', '/etc/haproxy/haproxy.cfg'],
    ]);
    expect(haproxy.execStart).toEqual({
      argv: ['/usr/sbin/haproxy', '-Ws', '-f', '/etc/haproxy/haproxy.cfg'],
      ignoreFailure: false,
    });
    expect(haproxy).toMatchObject({
      type: 'notify',
      user: 'haproxy',
      group: 'haproxy',
      runtimeDirectories: ['haproxy'],
      ambientCapabilities: ['CAP_NET_BIND_SERVICE'],
      environmentFiles: [{ path: '/etc/rwsplit/secrets/haproxy.env', optional: false }],
    });
  });

  it("reads keepalived's stop step, whose failure is ignored, and what it is bound to", () => {
    expect(unit('lb-2', 'keepalived.service').bindsTo).toEqual(['haproxy.service']);
    expect(unit('lb-2', 'keepalived.service').execStopPost).toEqual([
      {
        argv: ['/usr/sbin/ip', 'address', 'del', '198.18.10.10/24', 'dev', 'eth0'],
        ignoreFailure: true,
      },
    ]);
  });

  it("reads the app's quoted environment, dynamic user and working directory", () => {
    const app = unit('server-1', 'rwsplit-app.service');
    expect(app.environment).toMatchObject({
      HOST: '198.18.10.21',
      DB_PRIMARY: '198.18.10.31:3306',
      DB_REPLICAS: '198.18.10.32:3306,198.18.10.33:3306',
    });
    expect(app).toMatchObject({
      dynamicUser: true,
      user: 'rwsplit-app',
      workingDirectory: '/opt/rwsplit/examples/notes-app',
    });
  });

  it("reads the database's directories and the exporter's credential", () => {
    expect(unit('db-1', 'mariadb.service')).toMatchObject({
      user: 'mysql',
      runtimeDirectories: ['mysqld'],
      runtimeDirectoryMode: 0o755,
      logsDirectories: ['mysql'],
      stateDirectories: ['mysql-tmp', 'mysql-files'],
    });
    expect(unit('db-1', 'prometheus-mysqld-exporter.service').credentials).toEqual([
      { id: 'my.cnf', path: '/etc/rwsplit/secrets/mysqld-exporter.cnf' },
    ]);
  });

  it('refuses a unit without exactly one ExecStart, or with a prefix it cannot honour', () => {
    expect(() => parseServiceUnit('x.service', '[Service]\nType=simple\n')).toThrow(
      /unit x.service: one ExecStart= expected, found 0/,
    );
    expect(() => parseServiceUnit('x.service', '[Service]\nExecStart=+/bin/true\n')).toThrow(
      /the prefix \+ .* is not supported/,
    );
    expect(() => parseServiceUnit('x.service', '[Unit]\nDescription=x\n')).toThrow(/no \[Service\] section/);
    expect(() => parseServiceUnit('x.service', '[Service]\nExecStart=/bin/kill -HUP $MAINPID\n')).toThrow(
      /environment variables .* are not supported/,
    );
  });
});

describe('command lines, specifiers and environment files', () => {
  it('splits at blanks and keeps quoted words whole', () => {
    expect(splitCommandLine(`/bin/echo "a b" 'c d'  e "g\\"h"`)).toEqual([
      '/bin/echo',
      'a b',
      'c d',
      'e',
      'g"h',
    ]);
    expect(() => splitCommandLine('/bin/echo "open')).toThrow(/unclosed "/);
  });

  it('expands %d, %t and %%, and refuses any other specifier', () => {
    const specifiers = { credentialsDirectory: '/run/credentials/x.service', runtimeRoot: '/run' };
    expect(expandSpecifiers('--config.my-cnf=%d/my.cnf', specifiers)).toBe(
      '--config.my-cnf=/run/credentials/x.service/my.cnf',
    );
    expect(expandSpecifiers('%t/rwsplit-failover/manager.json', specifiers)).toBe(
      '/run/rwsplit-failover/manager.json',
    );
    expect(expandSpecifiers('100%%', specifiers)).toBe('100%');
    expect(() => expandSpecifiers('%n', specifiers)).toThrow(/specifier %n/);
  });

  it('reads NAME=value lines, skipping comments, unquoting values', () => {
    expect(parseEnvironmentFile('# a comment\nA=1\n\nB="two words"\nnot a line\nC=\n')).toEqual({
      A: '1',
      B: 'two words',
      C: '',
    });
  });
});
