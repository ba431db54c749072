import { describe, expect, it } from 'vitest';
import { createRouter, InvalidOptionError, type RouterConfig } from '../src/index.js';
import { resolveConfig } from '../src/resolve-config.js';
import { FakeDriver } from './fake-driver.js';

const base = { primary: { host: 'db-primary' } };

function optionError(options: unknown): InvalidOptionError {
  try {
    resolveConfig(options as RouterConfig);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    return error as InvalidOptionError;
  }
  throw new Error('expected resolveConfig to throw');
}

describe('createRouter options', () => {
  it('fills in every documented default', () => {
    const config = resolveConfig({ primary: { host: 'p' }, replicas: [{ host: 'r', port: 3307 }] });
    expect(config.primary).toEqual({ name: 'p:3306', host: 'p', port: 3306, weight: 1 });
    expect(config.replicas).toEqual([{ name: 'r:3307', host: 'r', port: 3307, weight: 1 }]);
    expect(config.pool).toEqual({
      min: 0,
      max: 10,
      acquireTimeoutMs: 5_000,
      connectTimeoutMs: 2_000,
      idleTimeoutMs: 60_000,
      validateAfterIdleMs: 5_000,
      pingTimeoutMs: 1_000,
    });
    expect(config.circuitBreaker).toEqual({ failureThreshold: 2, backoffMs: 1_000, maxBackoffMs: 10_000 });
    expect(config.whenNoReplica).toBe('primary');
    expect(config.queryText).toBe('always');
    expect(config.dbSystem).toBeUndefined();
    // mysql2's per-statement stack capture is off unless asked for.
    expect(config.connection).toEqual({ trace: false });
  });

  it('freezes the resolved options, deeply, and leaves the caller object alone', () => {
    const options = { primary: { host: 'p' }, replicas: [{ host: 'r' }], connection: { user: 'app' } };
    const router = createRouter({ ...options, driver: new FakeDriver() });
    expect(Object.isFrozen(router.config)).toBe(true);
    expect(Object.isFrozen(router.config.primary)).toBe(true);
    expect(Object.isFrozen(router.config.replicas)).toBe(true);
    expect(Object.isFrozen(router.config.replicas[0])).toBe(true);
    expect(Object.isFrozen(router.config.pool)).toBe(true);
    expect(Object.isFrozen(router.config.connection)).toBe(true);
    expect(Object.isFrozen(options.connection)).toBe(false);
    options.connection.user = 'changed';
    expect(router.config.connection.user).toBe('app');
  });

  it('passes mysql2 connection options through untouched', () => {
    const typeCast = () => 1;
    const config = resolveConfig({
      ...base,
      connection: {
        user: 'u',
        password: 'p',
        database: 'd',
        timezone: 'Z',
        charset: 'utf8mb4',
        ssl: {},
        typeCast,
      },
    });
    expect(config.connection).toMatchObject({ user: 'u', database: 'd', timezone: 'Z', charset: 'utf8mb4' });
    expect(config.connection.typeCast).toBe(typeCast);
  });

  it.each([
    ['options', null],
    ['primary', {}],
    ['primary', { primary: 'db:3306' }],
    ['primary.host', { primary: { host: '' } }],
    ['primary.host', { primary: { host: 42 } }],
    ['primary.port', { primary: { host: 'p', port: 0 } }],
    ['primary.port', { primary: { host: 'p', port: 70_000 } }],
    ['primary.port', { primary: { host: 'p', port: '3306' } }],
    ['primary.name', { primary: { host: 'p', name: '' } }],
    ['primary.weight', { primary: { host: 'p', weight: 2 } }],
    ['primary.hots', { primary: { hots: 'p' } }],
    ['replicas', { ...base, replicas: { host: 'r' } }],
    ['replicas[0]', { ...base, replicas: [null] }],
    ['replicas[1].host', { ...base, replicas: [{ host: 'r1' }, { port: 3306 }] }],
    ['replicas[0].weight', { ...base, replicas: [{ host: 'r', weight: 0 }] }],
    ['replicas[0].weight', { ...base, replicas: [{ host: 'r', weight: 1.5 }] }],
    [
      'replicas[1].name',
      {
        ...base,
        replicas: [
          { host: 'r', name: 'x' },
          { host: 's', name: 'x' },
        ],
      },
    ],
    ['replicas[0].name', { primary: { host: 'p', name: 'x' }, replicas: [{ host: 'r', name: 'x' }] }],
    ['connection', { ...base, connection: 'mysql://u@h/d' }],
    ['connection.host', { ...base, connection: { host: 'h' } }],
    ['connection.port', { ...base, connection: { port: 3306 } }],
    ['connection.uri', { ...base, connection: { uri: 'mysql://h' } }],
    ['connection.socketPath', { ...base, connection: { socketPath: '/tmp/s' } }],
    ['connection.connectTimeout', { ...base, connection: { connectTimeout: 10 } }],
    ['connection.user', { ...base, connection: { user: 1 } }],
    ['connection.password', { ...base, connection: { password: null } }],
    ['connection.database', { ...base, connection: { database: ['d'] } }],
    ['connection.timezone', { ...base, connection: { timezone: 0 } }],
    ['connection.charset', { ...base, connection: { charset: {} } }],
    ['connection.ssl', { ...base, connection: { ssl: true } }],
    ['pool', { ...base, pool: 5 }],
    ['pool.max', { ...base, pool: { max: 0 } }],
    ['pool.min', { ...base, pool: { min: -1 } }],
    ['pool.min', { ...base, pool: { min: 5, max: 2 } }],
    ['pool.acquireTimeoutMs', { ...base, pool: { acquireTimeoutMs: 0 } }],
    ['pool.connectTimeoutMs', { ...base, pool: { connectTimeoutMs: Number.NaN } }],
    ['pool.idleTimeoutMs', { ...base, pool: { idleTimeoutMs: -5 } }],
    ['pool.validateAfterIdleMs', { ...base, pool: { validateAfterIdleMs: '1s' } }],
    ['pool.pingTimeoutMs', { ...base, pool: { pingTimeoutMs: 0 } }],
    ['pool.size', { ...base, pool: { size: 3 } }],
    ['circuitBreaker.failureThreshold', { ...base, circuitBreaker: { failureThreshold: 0 } }],
    ['circuitBreaker.backoffMs', { ...base, circuitBreaker: { backoffMs: -1 } }],
    ['circuitBreaker.maxBackoffMs', { ...base, circuitBreaker: { backoffMs: 500, maxBackoffMs: 100 } }],
    ['whenNoReplica', { ...base, whenNoReplica: 'fail' }],
    ['dbSystem', { ...base, dbSystem: 'postgres' }],
    ['queryText', { ...base, queryText: 'sometimes' }],
    ['tracerProvider', { ...base, tracerProvider: {} }],
    ['meterProvider', { ...base, meterProvider: 'global' }],
    ['driver', { ...base, driver: { open() {} } }],
    ['replica', { ...base, replica: [{ host: 'r' }] }],
  ])('names %s when it is wrong', (option, options) => {
    const error = optionError(options);
    expect(error.option).toBe(option);
    expect(error.code).toBe('RWSPLIT_INVALID_OPTION');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain(`\`${option}\``);
    expect(error.message).toMatch(/Fix the value passed to createRouter\(\)/);
  });

  it('validates at creation, before any connection is opened', () => {
    const driver = new FakeDriver();
    expect(() => createRouter({ primary: { host: 'p' }, pool: { max: -1 }, driver })).toThrow(
      InvalidOptionError,
    );
    createRouter({ primary: { host: 'p' }, driver });
    expect(driver.connectOptions).toHaveLength(0);
  });

  it('hands each node its address, the shared options and the connect timeout', async () => {
    const driver = new FakeDriver();
    const router = createRouter({
      primary: { host: 'p', port: 3307 },
      connection: { user: 'app', database: 'notes' },
      pool: { connectTimeoutMs: 1234 },
      driver,
      monitor: false,
    });
    await router.query('INSERT INTO t VALUES (1)');
    expect(driver.connectOptions[0]).toEqual({
      trace: false,
      user: 'app',
      database: 'notes',
      host: 'p',
      port: 3307,
      connectTimeout: 1234,
    });
    await router.close();
  });
});
