import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

describe('loadConfig', () => {
  it('fills every variable with its default', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 3000,
      primary: { host: '127.0.0.1', port: 3306 },
    });
    expect(config.replicas).toEqual([]);
    expect(config.monitorUser).toBe(config.user);
    expect(config.lagMaxMs).toBeUndefined();
    expect(config.requestBodyTimeoutMs).toBe(10_000);
  });

  it('reads the variables @rwsplit/cluster passes', () => {
    const config = loadConfig({
      HOST: '127.1.2.11',
      PORT: '3100',
      SERVER_NAME: 'server-2',
      DB_PRIMARY: '127.1.2.21:3306',
      DB_REPLICAS: '127.1.2.22:3306, 127.1.2.23:3307',
      DB_NAME: 'notes',
      DB_USER: 'app',
      DB_PASSWORD: 'secret',
      DB_MONITOR_USER: 'monitor',
      DB_MONITOR_PASSWORD: 'm',
      LOG_LEVEL: 'warn',
      DB_LAG_MAX_MS: '10000',
      REQUEST_BODY_TIMEOUT_MS: '2500',
      DB_SSL_CA_FILE: '/state/ca/ca.crt',
      ALERTMANAGER_URL: 'http://127.1.2.30:9093',
    });
    expect(config.replicas).toEqual([
      { host: '127.1.2.22', port: 3306 },
      { host: '127.1.2.23', port: 3307 },
    ]);
    expect(config).toMatchObject({
      port: 3100,
      serverName: 'server-2',
      monitorUser: 'monitor',
      logLevel: 'warn',
      lagMaxMs: 10_000,
      requestBodyTimeoutMs: 2_500,
      sslCaFile: '/state/ca/ca.crt',
      alertmanagerUrl: 'http://127.1.2.30:9093',
    });
  });

  it('refuses an Alertmanager URL that is not http or https', () => {
    expect(loadConfig({}).alertmanagerUrl).toBeUndefined();
    for (const value of ['127.1.2.30:9093', 'ftp://127.1.2.30/', 'not a url']) {
      expect(() => loadConfig({ ALERTMANAGER_URL: value }), value).toThrow(/ALERTMANAGER_URL/);
    }
  });

  it('treats an empty DB_REPLICAS as no replicas', () => {
    expect(loadConfig({ DB_REPLICAS: '' }).replicas).toEqual([]);
  });

  it('names every invalid variable in one message', () => {
    const attempt = () =>
      loadConfig({ PORT: 'eighty', DB_REPLICAS: '127.0.0.1:3306,nope', LOG_LEVEL: 'loud' });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/PORT/);
    expect(attempt).toThrow(/DB_REPLICAS\.1: expected host:port, got "nope"/);
    expect(attempt).toThrow(/LOG_LEVEL/);
  });

  it('refuses a lag bound that is not a whole number of ms', () => {
    expect(() => loadConfig({ DB_LAG_MAX_MS: '-5' })).toThrow(/DB_LAG_MAX_MS/);
    expect(() => loadConfig({ DB_LAG_MAX_MS: 'soon' })).toThrow(/DB_LAG_MAX_MS/);
  });

  it('refuses a body deadline that is not a whole number of ms a timer can hold', () => {
    for (const value of ['0', '-1', '1.5', 'soon', '2147483648']) {
      expect(() => loadConfig({ REQUEST_BODY_TIMEOUT_MS: value }), value).toThrow(/REQUEST_BODY_TIMEOUT_MS/);
    }
  });

  it('refuses a primary without a valid port', () => {
    expect(() => loadConfig({ DB_PRIMARY: 'db:99999' })).toThrow(/DB_PRIMARY: expected host:port/);
  });
});
