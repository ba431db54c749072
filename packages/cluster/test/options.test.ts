import { describe, expect, it } from 'vitest';
import { ClusterError } from '../src/errors.js';
import { type ClusterOptions, resolveOptions } from '../src/options.js';

function rejection(options: unknown): ClusterError {
  try {
    resolveOptions(options as ClusterOptions);
  } catch (error) {
    if (error instanceof ClusterError) return error;
    throw error;
  }
  throw new Error('expected the options to be rejected');
}

// The one option without a default when there are servers (the default is two).
const APP = { command: ['node', 'server.js'] };

describe('resolveOptions', () => {
  it('fills in the documented defaults', () => {
    const resolved = resolveOptions({ app: APP });
    expect(resolved).toMatchObject({
      servers: 2,
      replicas: 1,
      balance: 'roundrobin',
      mode: 'active-active',
      keepState: false,
      monitoring: true,
      startTimeoutMs: 30_000,
      ports: { mariadb: 3306, app: 3000, nginx: 8080, lbHttp: 8080, lbHttps: 8443, lbStats: 8404 },
    });
    expect(resolved.credentials.app.user).toBe('app');
    expect(resolved.credentials.database).toBe('app');
    expect(Object.isFrozen(resolved)).toBe(true);
  });

  it('generates a different password per cluster', () => {
    expect(resolveOptions({ servers: 0 }).credentials.app.password).not.toBe(
      resolveOptions({ servers: 0 }).credentials.app.password,
    );
  });

  it('generates every password, 144 random bits each, and a failover account of its own', () => {
    const { credentials } = resolveOptions({ servers: 0 });
    const passwords = [
      credentials.app,
      credentials.admin,
      credentials.monitor,
      credentials.replication,
      credentials.failover,
      credentials.stats,
    ].map((c) => c.password);
    expect(new Set(passwords).size).toBe(6);
    for (const password of passwords) expect(password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(credentials.failover.user).toBe('rwsplit_failover');
  });

  it('takes a public name for the redirect and the certificate, by default none (the LB address)', () => {
    expect(resolveOptions({ app: APP }).publicName).toBeUndefined();
    expect(resolveOptions({ app: APP, publicName: 'notes.example.org' }).publicName).toBe(
      'notes.example.org',
    );
    expect(resolveOptions({ app: APP, publicName: '198.18.0.10' }).publicName).toBe('198.18.0.10');
  });

  it('requires the app the servers run, as the harness ships none, and none for a database-only cluster', () => {
    for (const options of [{}, { servers: 1 }]) {
      const error = rejection(options);
      expect(error.code).toBe('CLUSTER_INVALID_OPTION');
      expect(error.message).toContain('option app: required with servers:');
      expect(error.message).toContain('servers: 0 for a database-only cluster');
    }
    expect(rejection({}).message).toContain('servers: 2 (the default)');
    expect(resolveOptions({ servers: 0 }).app).toBeUndefined();
  });

  it('names a wrong option before the missing app', () => {
    expect(rejection({ balance: 'random' }).message).toContain('option balance');
    expect(rejection({ publicName: 'a b' }).message).toContain('option publicName');
  });

  it.each([
    [{ servers: 3 }, 'servers', 'from 0 to 2'],
    [{ servers: 1.5 }, 'servers', 'integer'],
    [{ replicas: 4 }, 'replicas', 'from 0 to 3'],
    [{ replicas: -1 }, 'replicas', 'from 0 to 3'],
    [{ balance: 'random' }, 'balance', 'roundrobin | leastconn | source'],
    [{ mode: 'hot-standby' }, 'mode', 'active-active | active-passive'],
    [{ mode: 'active-passive', servers: 1 }, 'mode', 'servers: 2'],
    [{ app: { command: [] } }, 'app.command', 'non-empty array'],
    [{ app: null }, 'app.command', 'non-empty array'],
    [{ app: { command: ['node'], staticDir: 'public' } }, 'app.staticDir', 'absolute'],
    [{ app: { command: ['node'], staticDir: '/srv/$host' } }, 'app.staticDir', 'absolute'],
    [{ app: { command: ['node'], staticDir: '/srv/a; root /' } }, 'app.staticDir', 'absolute'],
    [{ app: { command: ['node'], internalPaths: ['/'] } }, 'app.internalPaths', 'not "/"'],
    [{ app: { command: ['node'], internalPaths: ['/metrics {'] } }, 'app.internalPaths', '/metrics'],
    [{ app: { command: ['node'], internalPaths: ['/m', '/m'] } }, 'app.internalPaths', 'twice'],
    [{ ports: { mariadb: 80 } }, 'ports.mariadb', 'from 1024 to 65535'],
    [{ ports: { redis: 6379 } }, 'ports.redis', 'unknown port'],
    [{ credentials: { database: 'bad-name;' } }, 'credentials.database', 'letters'],
    [{ credentials: { app: { user: 'app', password: "it's" } } }, 'credentials.app.password', 'letters'],
    [{ block: '10.0.0' }, 'block', '127.X.Y'],
    [{ startTimeoutMs: 10 }, 'startTimeoutMs', 'from 1000'],
    [{ serverz: 2 }, 'serverz', 'unknown option'],
    [{ publicName: 'evil.example/x' }, 'publicName', 'DNS name'],
    [{ monitoring: 'yes' }, 'monitoring', 'boolean'],
    [{ stateRoot: "/tmp/it's" }, 'stateRoot', 'absolute path'],
    [{ publicName: 'a b' }, 'publicName', 'DNS name'],
    [{ publicName: '%[req.hdr(host)]' }, 'publicName', 'DNS name'],
    [
      { credentials: { failover: { user: 'f', password: 'bad pw' } } },
      'credentials.failover.password',
      'letters',
    ],
  ])('rejects %j naming %s', (options, option, hint) => {
    const error = rejection(options);
    expect(error.code).toBe('CLUSTER_INVALID_OPTION');
    expect(error.message).toContain(`option ${option}`);
    expect(error.message).toContain(hint);
  });
});

describe('the runtime option', () => {
  it('is native unless docker is asked for', () => {
    expect(resolveOptions({ servers: 0 }).runtime).toBe('native');
    expect(resolveOptions({ servers: 0, runtime: 'docker' }).runtime).toBe('docker');
  });

  it('names the allowed values for a wrong one', () => {
    const error = rejection({ servers: 0, runtime: 'podman' });
    expect(error.code).toBe('CLUSTER_INVALID_OPTION');
    expect(error.message).toMatch(/runtime.*native \| docker.*"podman"/);
  });

  it('refuses docker with netns hosts, saying which host model containers use', () => {
    const error = rejection({ servers: 0, runtime: 'docker', hosts: 'netns' });
    expect(error.message).toMatch(/runtime.*loopback/);
  });
});
