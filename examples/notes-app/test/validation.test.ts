import { describe, expect, it } from 'vitest';
import { encodeCursor } from '../src/cursor.js';
import { createNoteSchema, escapeLike, listQuerySchema, updateNoteSchema } from '../src/routes/notes.js';

describe('note input', () => {
  it('accepts a title with an empty body by default', () => {
    expect(createNoteSchema.parse({ title: ' hi ' })).toEqual({ title: 'hi', body: '' });
  });

  it('refuses empty and over-long titles, over-long bodies and unknown fields', () => {
    expect(createNoteSchema.safeParse({ title: '' }).success).toBe(false);
    expect(createNoteSchema.safeParse({ title: 'x'.repeat(201) }).success).toBe(false);
    expect(createNoteSchema.safeParse({ title: 'x', body: 'y'.repeat(10_001) }).success).toBe(false);
    expect(createNoteSchema.safeParse({ title: 'x', id: 5 }).success).toBe(false);
  });

  it('needs at least one field in a patch', () => {
    expect(updateNoteSchema.safeParse({}).success).toBe(false);
    expect(updateNoteSchema.parse({ body: '' })).toEqual({ body: '' });
  });
});

describe('list query', () => {
  it('defaults limit to 20 and bounds it to 1..100', () => {
    expect(listQuerySchema.parse({})).toEqual({ limit: 20 });
    expect(listQuerySchema.safeParse({ limit: '0' }).success).toBe(false);
    expect(listQuerySchema.safeParse({ limit: '101' }).success).toBe(false);
  });

  it('decodes the before cursor and refuses a forged one', () => {
    expect(listQuerySchema.parse({ before: encodeCursor(9) })).toEqual({ limit: 20, before: 9 });
    expect(listQuerySchema.safeParse({ before: 'garbage' }).success).toBe(false);
  });
});

describe('escapeLike', () => {
  it('makes %, _ and \\ match themselves', () => {
    expect(escapeLike('50%_off\\')).toBe('50\\%\\_off\\\\');
  });
});
