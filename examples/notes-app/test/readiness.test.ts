import type { NodeStatus } from '@rwsplit/router';
import { describe, expect, it } from 'vitest';
import { Readiness } from '../src/readiness.js';

function node(name: string, reachable: boolean): NodeStatus {
  return {
    name,
    host: name,
    port: 3306,
    role: 'unknown',
    reachable,
    lagMs: null,
    inRotation: false,
    checkedAt: 1,
  };
}

describe('Readiness', () => {
  it('is ready when the primary or a replica is reachable', () => {
    const readiness = new Readiness();
    expect(readiness.check([node('p', false), node('r', true)]).ready).toBe(true);
    expect(readiness.check([node('p', true)]).ready).toBe(true);
  });

  it('is not ready when no node is reachable', () => {
    expect(new Readiness().check([node('p', false)])).toEqual({
      ready: false,
      reason: 'no database node reachable',
    });
  });

  it('is not ready once draining, even with the database up', () => {
    const readiness = new Readiness();
    readiness.drain();
    expect(readiness.check([node('p', true)])).toEqual({ ready: false, reason: 'draining' });
  });
});
