import { describe, expect, it } from 'vitest';
import { parsePosition } from '../src/consistency/position.js';
import { ReadYourWrites } from '../src/consistency/read-your-writes.js';
import { createTokenCodec } from '../src/consistency/token.js';
import { InvalidOptionError } from '../src/errors.js';
import { resolveConfig } from '../src/resolve-config.js';
import type { RouterConfig } from '../src/router-config.js';

const base: RouterConfig = { primary: { host: 'p' }, connection: { database: 'app' } };

function position(text: string) {
  const parsed = parsePosition('mariadb', text);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.value;
}

describe('monitor, lag, heartbeat and consistency options', () => {
  it('fills in the documented defaults', () => {
    const config = resolveConfig(base);
    expect(config.monitor).toEqual({
      intervalMs: 250,
      timeoutMs: 1_000,
      user: undefined,
      password: undefined,
    });
    expect(config.lag).toEqual({ maxMs: 1_000, readmitAfterMs: 1_000 });
    expect(config.heartbeat).toEqual({
      schema: 'app',
      table: 'rwsplit_heartbeat',
      create: true,
      writerId: 1,
    });
    expect(config.consistency.mode).toBe('session');
    expect(config.consistency.waitMs).toBe(50);
  });

  it('turns the monitor and the heartbeat off with false', () => {
    const config = resolveConfig({ ...base, monitor: false, heartbeat: false });
    expect(config.monitor).toBeUndefined();
    expect(config.heartbeat).toBeUndefined();
  });

  it('leaves the heartbeat off without a database unless it is configured', () => {
    expect(resolveConfig({ primary: { host: 'p' } }).heartbeat).toBeUndefined();
    expect(() => resolveConfig({ primary: { host: 'p' }, heartbeat: { table: 'hb' } })).toThrow(
      /heartbeat\.schema/,
    );
  });

  it('accepts a mode string or an object for consistency', () => {
    expect(resolveConfig({ ...base, consistency: 'strong' }).consistency.mode).toBe('strong');
    const config = resolveConfig({ ...base, consistency: { mode: 'eventual', waitMs: 0 } });
    expect(config.consistency).toMatchObject({ mode: 'eventual', waitMs: 0 });
  });

  it.each([
    [{ monitor: { intervalMs: 0 } }, 'monitor.intervalMs'],
    [{ monitor: { every: 1 } }, 'monitor.every'],
    [{ monitor: { user: 7 } }, 'monitor.user'],
    [{ lag: { maxMs: -1 } }, 'lag.maxMs'],
    [{ lag: { readmitAfterMs: 1.5 } }, 'lag.readmitAfterMs'],
    [{ heartbeat: { create: 'yes' } }, 'heartbeat.create'],
    [{ consistency: 'linearizable' }, 'consistency'],
    [{ consistency: { mode: 'causal' } }, 'consistency.mode'],
    [{ consistency: { waitMs: -5 } }, 'consistency.waitMs'],
    [{ consistency: { secret: 'short' } }, 'consistency.secret'],
    [{ logger: { info() {} } }, 'logger'],
  ])('rejects %j naming %s', (options, option) => {
    let error: unknown;
    try {
      resolveConfig({ ...base, ...(options as Partial<RouterConfig>) });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as InvalidOptionError).option).toBe(option);
  });
});

describe('ReadYourWrites', () => {
  const codec = createTokenCodec();

  it('requires nothing until the session writes, then exactly its commit', () => {
    const scope = new ReadYourWrites('session', codec, undefined);
    expect(scope.requirement).toBeUndefined();
    expect(scope.token()).toBeUndefined();
    expect(scope.coveredBy(undefined)).toBe(true);
    scope.recordCommit(position('0-1-10'));
    expect(scope.coveredBy(position('0-1-9'))).toBe(false);
    expect(scope.coveredBy(position('0-1-10'))).toBe(true);
    expect(scope.coveredBy(undefined)).toBe(false);
  });

  it('keeps the highest position per domain over several writes', () => {
    const scope = new ReadYourWrites('session', codec, undefined);
    scope.recordCommit(position('0-1-10'));
    scope.recordCommit(position('0-1-7,1-1-3'));
    expect(scope.coveredBy(position('0-1-10,1-1-2'))).toBe(false);
    expect(scope.coveredBy(position('0-1-10,1-1-3'))).toBe(true);
  });

  it('resumes from a token issued by another session (another app server)', () => {
    const writer = new ReadYourWrites('session', codec, undefined);
    writer.recordCommit(position('0-2-42'));
    const reader = new ReadYourWrites('session', codec, writer.token());
    expect(reader.readsNeedPrimary).toBe(false);
    expect(reader.coveredBy(position('0-1-41'))).toBe(false);
    expect(reader.coveredBy(position('0-1-42'))).toBe(true);
  });

  it.each(['garbage', 'v1.', 'v1.AAAA', 'v9.abc', '%%%'])(
    'sends reads to the primary for an unusable token %j',
    (token) => {
      const scope = new ReadYourWrites('session', codec, token);
      expect(scope.readsNeedPrimary).toBe(true);
    },
  );

  it('sends every read to the primary under strong, and none under eventual', () => {
    expect(new ReadYourWrites('strong', codec, undefined).readsNeedPrimary).toBe(true);
    const eventual = new ReadYourWrites('eventual', codec, undefined);
    eventual.recordCommit(position('0-1-5'));
    expect(eventual.readsNeedPrimary).toBe(false);
    expect(eventual.requirement).toBeUndefined();
  });

  it('falls back to the primary once a commit position was lost', () => {
    const scope = new ReadYourWrites('session', codec, undefined);
    scope.lostTrack();
    expect(scope.readsNeedPrimary).toBe(true);
  });

  it('hands a lost write on: the next request (another app server) reads from the primary too', () => {
    // The first write of a session whose position was lost: before, token() had nothing to send, and the
    // next request, on the other server, read a replica that had not applied the write.
    const writer = new ReadYourWrites('session', codec, undefined);
    writer.lostTrack();
    const token = writer.token();
    expect(token).toBeDefined();
    const next = new ReadYourWrites('session', codec, token);
    expect(next.readsNeedPrimary).toBe(true);
    expect(next.lostAWrite).toBe(true);
    // It stays marked through later writes with known positions: the lost one may not be among them.
    next.recordCommit(position('0-1-9'));
    const after = new ReadYourWrites('session', codec, next.token());
    expect(after.readsNeedPrimary).toBe(true);
    expect(after.requirement).toEqual(position('0-1-9'));
  });

  it('keeps handing on only what it wrote after an unreadable token, as before', () => {
    const scope = new ReadYourWrites('session', codec, 'garbage');
    scope.recordCommit(position('0-1-3'));
    expect(new ReadYourWrites('session', codec, scope.token()).readsNeedPrimary).toBe(false);
  });
});
