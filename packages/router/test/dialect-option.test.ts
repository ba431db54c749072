import { describe, expect, it } from 'vitest';
import { createRouter, type Dialect, detectDialect, InvalidOptionError } from '../src/index.js';
import { FakeDriver } from './fake-driver.js';

describe('the dialect option', () => {
  it('asks a detector for the dialect of the version the server reports', async () => {
    const seen: string[] = [];
    const driver = new FakeDriver();
    const router = createRouter({
      primary: { host: 'p' },
      driver,
      monitor: false,
      dialect: (version) => {
        seen.push(version);
        return detectDialect(version);
      },
    });
    await router.execute('INSERT INTO t VALUES (1)');
    await router.close();
    expect(seen).toEqual(['10.11.6-MariaDB']);
  });

  it('uses a dialect instance as it is, whatever the version string says', async () => {
    const mysql = detectDialect('8.0.36');
    const driver = new FakeDriver();
    driver.server('p').version = '5.5.5-10.11.6-MariaDB-proxy';
    let asked = 0;
    const counting: Dialect = {
      ...mysql,
      flavor: mysql.flavor,
      commitPosition: (result) => {
        asked++;
        return mysql.commitPosition(result);
      },
      waitForPosition: (position, ms) => mysql.waitForPosition(position, ms),
      heartbeat: (table) => mysql.heartbeat(table),
      parsePosition: (text) => mysql.parsePosition(text),
    };
    const router = createRouter({ primary: { host: 'p' }, driver, monitor: false, dialect: counting });
    const session = router.session();
    await session.execute('INSERT INTO t VALUES (1)');
    await session.end();
    await router.close();
    expect(asked).toBe(1);
  });

  it('refuses anything else, naming the option', () => {
    expect(() => createRouter({ primary: { host: 'p' }, dialect: 'mysql' as never })).toThrow(
      InvalidOptionError,
    );
    expect(() => createRouter({ primary: { host: 'p' }, dialect: 'mysql' as never })).toThrow(/`dialect`/);
  });
});

describe('the readSelector option', () => {
  it('takes a name or an object with select(), and refuses anything else', () => {
    expect(() => createRouter({ primary: { host: 'p' }, readSelector: 'least-outstanding' })).not.toThrow();
    expect(() =>
      createRouter({ primary: { host: 'p' }, readSelector: { select: (c) => c[0] } }),
    ).not.toThrow();
    expect(() => createRouter({ primary: { host: 'p' }, readSelector: 'random' as never })).toThrow(
      /`readSelector`/,
    );
  });

  it('sends reads where a custom selector says', async () => {
    const driver = new FakeDriver();
    const router = createRouter({
      primary: { host: 'p', name: 'primary' },
      replicas: [
        { host: 'r1', name: 'replica-1' },
        { host: 'r2', name: 'replica-2' },
      ],
      driver,
      monitor: false,
      consistency: 'eventual',
      readSelector: { select: (candidates) => candidates.find((c) => c.name === 'replica-2') },
    });
    for (let i = 0; i < 4; i++) await router.query('SELECT 1');
    await router.close();
    expect(driver.server('r1').executed).toHaveLength(0);
    expect(driver.server('r2').executed).toHaveLength(4);
  });
});
