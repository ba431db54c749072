import type { RwsplitRequest } from '@rwsplit/router/express';
import { type Request, type Response, Router } from 'express';
import { z } from 'zod';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { DB_NODE_HEADER, DB_WRITE_NODE_HEADER } from '../db-node.js';
import { NotFoundError, requireJson } from '../errors.js';

export interface Note {
  id: number;
  title: string;
  body: string;
  created_at: string;
  updated_at: string;
}

export const createNoteSchema = z.strictObject({
  title: z.string().trim().min(1).max(200),
  body: z.string().max(10_000).default(''),
});

export const updateNoteSchema = z
  .strictObject({
    title: z.string().trim().min(1).max(200).optional(),
    body: z.string().max(10_000).optional(),
  })
  .refine((patch) => patch.title !== undefined || patch.body !== undefined, {
    message: 'Give title, body or both',
  });

export const idSchema = z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER);

export const listQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  before: z
    .string()
    .optional()
    .transform((cursor, ctx) => {
      if (cursor === undefined) return undefined;
      const id = decodeCursor(cursor);
      if (id === undefined) {
        ctx.addIssue({ code: 'custom', message: 'not a cursor this API issued' });
        return z.NEVER;
      }
      return id;
    }),
});

export const searchQuerySchema = z.object({
  q: z.string().trim().min(1).max(200),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});

/** `%` and `_` in user input match themselves (LIKE's default escape character is `\`). */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

const COLUMNS = 'id, title, body, created_at, updated_at';

// Built once, not per request: the same string every time also spares the router's classification cache
// hashing a fresh one. Plain reads: the session says which node answered them (`lastNode`).
const NOTE_BY_ID = `SELECT ${COLUMNS} FROM notes WHERE id = ?`;
const NEWEST = `SELECT ${COLUMNS} FROM notes ORDER BY id DESC LIMIT ?`;
const NEWEST_BEFORE = `SELECT ${COLUMNS} FROM notes WHERE id < ? ORDER BY id DESC LIMIT ?`;
const SEARCH = `SELECT ${COLUMNS} FROM notes WHERE title LIKE ? OR body LIKE ? ORDER BY id DESC LIMIT ?`;

type Db = RwsplitRequest['db'];

function db(req: Request): Db {
  return (req as Request & RwsplitRequest).db;
}

// Not a closure inside toNote: where the code runs through tsx (esbuild's keepNames), a named closure costs
// a defineProperty on every call.
function isoTime(value: unknown): string {
  return value instanceof Date ? value.toISOString() : String(value);
}

function toNote(row: Record<string, unknown>): Note {
  return {
    id: Number(row.id),
    title: String(row.title),
    body: String(row.body),
    created_at: isoTime(row.created_at),
    updated_at: isoTime(row.updated_at),
  };
}

/** What a write answered: mysql2's ResultSetHeader, the two fields used here. */
interface WriteResult {
  readonly insertId: number;
  readonly affectedRows: number;
}

/** Runs a write and names the node that took it in `X-DB-Write-Node`. */
async function write(
  req: Request,
  res: Response,
  sql: string,
  values: (string | number)[],
): Promise<WriteResult> {
  const session = db(req);
  const [result] = await session.execute(sql, values);
  const node = session.lastNode;
  if (node !== undefined) res.setHeader(DB_WRITE_NODE_HEADER, node);
  return result as unknown as WriteResult;
}

/** The notes API, mounted at `/api/notes`. Data access goes through `req.db`, the request's session. */
export function notesRouter(): Router {
  const router = Router();

  /** Runs a read, names the node that answered in `X-DB-Node`, returns the matched notes. */
  async function readNotes(
    req: Request,
    res: Response,
    sql: string,
    values: (string | number)[],
  ): Promise<Note[]> {
    const session = db(req);
    const [result] = await session.query(sql, values);
    // The node that answered, even when nothing matched.
    const node = session.lastNode;
    if (node !== undefined) res.setHeader(DB_NODE_HEADER, node);
    const notes: Note[] = [];
    for (const row of result as Record<string, unknown>[]) notes.push(toNote(row));
    return notes;
  }

  async function findNote(req: Request, res: Response, id: number): Promise<Note> {
    const [note] = await readNotes(req, res, NOTE_BY_ID, [id]);
    if (!note) throw new NotFoundError(`No note with id ${id}`);
    return note;
  }

  router.post('/', requireJson, async (req, res) => {
    const input = createNoteSchema.parse(req.body);
    const result = await write(req, res, 'INSERT INTO notes (title, body) VALUES (?, ?)', [
      input.title,
      input.body,
    ]);
    // Read back through the session: its token makes this read see the insert on any node.
    const note = await findNote(req, res, result.insertId);
    res.status(201).location(`/api/notes/${note.id}`).json(note);
  });

  router.get('/', async (req, res) => {
    const { limit, before } = listQuerySchema.parse(req.query);
    const rows =
      before === undefined
        ? await readNotes(req, res, NEWEST, [limit + 1])
        : await readNotes(req, res, NEWEST_BEFORE, [before, limit + 1]);
    const notes = rows.slice(0, limit);
    const last = notes.at(-1);
    res.json({ notes, next: rows.length > limit && last ? encodeCursor(last.id) : null });
  });

  router.get('/search', async (req, res) => {
    const { q, limit } = searchQuerySchema.parse(req.query);
    const pattern = `%${escapeLike(q)}%`;
    const notes = await readNotes(req, res, SEARCH, [pattern, pattern, limit]);
    res.json({ notes });
  });

  router.get('/:id', async (req, res) => {
    res.json(await findNote(req, res, idSchema.parse(req.params.id)));
  });

  router.patch('/:id', requireJson, async (req, res) => {
    const id = idSchema.parse(req.params.id);
    const patch = updateNoteSchema.parse(req.body);
    const sets: string[] = [];
    const values: string[] = [];
    for (const column of ['title', 'body'] as const) {
      const value = patch[column];
      if (value === undefined) continue;
      sets.push(`${column} = ?`);
      values.push(value);
    }
    const result = await write(req, res, `UPDATE notes SET ${sets.join(', ')} WHERE id = ?`, [...values, id]);
    if (result.affectedRows === 0) throw new NotFoundError(`No note with id ${id}`);
    res.json(await findNote(req, res, id));
  });

  router.delete('/:id', async (req, res) => {
    const id = idSchema.parse(req.params.id);
    const result = await write(req, res, 'DELETE FROM notes WHERE id = ?', [id]);
    if (result.affectedRows === 0) throw new NotFoundError(`No note with id ${id}`);
    res.status(204).end();
  });

  return router;
}
