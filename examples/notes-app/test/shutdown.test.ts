import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Readiness } from '../src/readiness.js';
import { gracefulShutdown } from '../src/shutdown.js';

describe('gracefulShutdown', () => {
  it('drains at once, lets the in-flight request finish, closes the database, exits 0', async () => {
    const events: string[] = [];
    let release: () => void = () => {};
    const server = createServer((_req, res) => {
      release = () => res.end('done');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const inFlight = fetch(url).then((res) => res.text());
    await new Promise((resolve) => setTimeout(resolve, 50));

    const readiness = new Readiness();
    const exited = new Promise<number>((resolve) => {
      const shutdown = gracefulShutdown({
        server,
        readiness,
        logger: pino({ level: 'silent' }),
        closeDb: async () => {
          events.push('db closed');
        },
        drainDelayMs: 50,
        exit: resolve,
      });
      void shutdown('SIGTERM');
    });
    expect(readiness.draining).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(events).toEqual([]);
    release();
    expect(await inFlight).toBe('done');
    expect(await exited).toBe(0);
    expect(events).toEqual(['db closed']);
  });

  it('exits 1 when the hard cap passes first', async () => {
    const server = createServer(() => {});
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    void fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`).catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 50));
    const code = await new Promise<number>((resolve) => {
      void gracefulShutdown({
        server,
        readiness: new Readiness(),
        logger: pino({ level: 'silent' }),
        closeDb: async () => {},
        drainDelayMs: 0,
        hardCapMs: 100,
        exit: resolve,
      })('SIGTERM');
    });
    expect(code).toBe(1);
  });
});
