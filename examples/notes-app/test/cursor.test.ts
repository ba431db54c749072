import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from '../src/cursor.js';

describe('cursor', () => {
  it('round-trips an id', () => {
    for (const id of [1, 42, Number.MAX_SAFE_INTEGER]) expect(decodeCursor(encodeCursor(id))).toBe(id);
  });

  it('is opaque and URL-safe', () => {
    expect(encodeCursor(123)).toMatch(/^[\w-]+$/);
    expect(encodeCursor(123)).not.toContain('123');
  });

  it('refuses cursors it did not issue', () => {
    for (const bad of [
      '',
      '123',
      'not-base64!',
      Buffer.from('v1:0').toString('base64url'),
      Buffer.from('v1:-5').toString('base64url'),
      Buffer.from('v2:5').toString('base64url'),
    ])
      expect(decodeCursor(bad)).toBeUndefined();
  });
});
