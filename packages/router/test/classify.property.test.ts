import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RouteTarget } from '../src/classify/classification.js';
import {
  CLASSIFY_REASONS,
  classify,
  TRANSACTION_EFFECTS,
  type TransactionEffect,
} from '../src/classify/index.js';

/** Statements with their tokens separated by single spaces; each space may become any blank or comment. */
const corpus: readonly (readonly [sql: string, target: RouteTarget, sessionState: boolean])[] = [
  ['SELECT * FROM notes WHERE id = ?', 'replica', false],
  ['SELECT \'DELETE;FOR\tUPDATE\' , `delete` FROM t WHERE a = "INTO"', 'replica', false],
  ['( SELECT a FROM t1 ) UNION ( SELECT a FROM t2 )', 'replica', false],
  [
    'WITH RECURSIVE c ( n ) AS ( SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 5 ) SELECT n FROM c',
    'replica',
    false,
  ],
  ['SELECT SUBSTRING ( title FROM 1 FOR 3 ) , REPLACE ( a , b , c ) FROM t . update', 'replica', false],
  ['TABLE notes ORDER BY id LIMIT 5', 'replica', false],
  ['VALUES ROW ( 1 , 2 ) , ROW ( 3 , 4 )', 'replica', false],
  ['SHOW FULL TABLES', 'replica', false],
  ['EXPLAIN ANALYZE FORMAT = TREE SELECT 1', 'replica', false],
  ['ANALYZE FORMAT = JSON SELECT 1', 'replica', false],
  ['SELECT 1 ; SELECT 2', 'replica', false],
  ['SELECT * FROM t FOR UPDATE SKIP LOCKED', 'primary', false],
  ['SELECT * FROM t FOR SHARE OF t NOWAIT', 'primary', false],
  ['SELECT * FROM t LOCK IN SHARE MODE', 'primary', false],
  ['SELECT a INTO @x FROM t', 'primary', true],
  ["SELECT * FROM t INTO OUTFILE '/tmp/t'", 'primary', false],
  ['SELECT LAST_INSERT_ID ( )', 'primary', false],
  ["SELECT GET_LOCK ( 'a' , 1 )", 'primary', true],
  ['SELECT NEXT VALUE FOR s', 'primary', false],
  ['SELECT SQL_CALC_FOUND_ROWS * FROM t', 'primary', false],
  ['SELECT @r := @r + 1 FROM t', 'primary', true],
  ['SELECT @@identity', 'primary', false],
  ['SHOW WARNINGS', 'primary', false],
  ['WITH c AS ( SELECT 1 ) UPDATE t SET a = 1', 'primary', false],
  ['INSERT INTO notes ( title ) VALUES ( ? )', 'primary', false],
  ['UPDATE notes SET title = ? WHERE id = ?', 'primary', false],
  ['DELETE FROM notes WHERE id = ?', 'primary', false],
  ['REPLACE INTO t VALUES ( 1 )', 'primary', false],
  ['EXPLAIN ANALYZE UPDATE t SET a = 1', 'primary', false],
  ['ANALYZE TABLE t', 'primary', false],
  ['CREATE TABLE t ( id INT )', 'primary', false],
  ['CREATE TEMPORARY TABLE t ( id INT )', 'primary', true],
  ['DROP TEMPORARY TABLE t', 'primary', true],
  ["GRANT SELECT ON db . * TO 'u' @ '%'", 'primary', false],
  ['SET NAMES utf8mb4', 'primary', true],
  ['SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED', 'primary', true],
  ['SET autocommit = 0', 'primary', true],
  ['USE notes', 'primary', true],
  ['LOCK TABLES t READ', 'primary', true],
  ["PREPARE s FROM 'SELECT 1'", 'primary', true],
  ['START TRANSACTION', 'primary', true],
  ['COMMIT', 'primary', true],
  ['CALL p ( @out )', 'primary', true],
  ["DO RELEASE_LOCK ( 'a' )", 'primary', true],
  ['SELECT 1 ; DELETE FROM t', 'primary', false],
];

const commentText = fc
  .array(
    fc.constantFrom(
      'DELETE FROM t',
      'FOR UPDATE',
      "'",
      '"',
      '`',
      ';',
      '@x :=',
      'INTO @y',
      ' ',
      '/',
      '*',
      '-',
      '#',
      'é',
      'rwsplit:replica',
    ),
    { maxLength: 6 },
  )
  .map((parts) => parts.join(''));

const gap = fc
  .array(
    fc.oneof(
      fc.constantFrom(' ', '\t', '\n', '\r\n', '  '),
      commentText
        .filter((t) => !t.includes('*/') && !t.startsWith('!') && !t.startsWith('M!') && !t.endsWith('*'))
        .map((t) => `/*${t}*/`),
      commentText.map((t) => `-- ${t}\n`),
      commentText.map((t) => `#${t}\n`),
    ),
    { minLength: 1, maxLength: 3 },
  )
  .map((parts) => parts.join(''));

/** Random upper/lower case for keyword-like tokens; literals and punctuation stay as they are. */
function recase(token: string, flips: readonly boolean[]): string {
  if (!/^[A-Z_]+$/.test(token)) return token;
  return [...token].map((ch, i) => (flips[i % flips.length] ? ch.toLowerCase() : ch)).join('');
}

/** `sql` with every space between its tokens, and both ends, made blanks or comments, and its keywords recased. */
function disguise(sql: string): fc.Arbitrary<string> {
  const tokens = sql.split(' ');
  return fc
    .tuple(
      fc.array(gap, { minLength: tokens.length + 1, maxLength: tokens.length + 1 }),
      fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
    )
    .map(
      ([gaps, flips]) =>
        tokens.map((token, i) => `${gaps[i] ?? ''}${recase(token, flips)}`).join('') +
        (gaps[tokens.length] ?? ''),
    );
}

const disguised = fc
  .constantFrom(...corpus)
  .chain(([sql, target, sessionState]) => disguise(sql).map((text) => ({ text, target, sessionState })));

describe('classify properties', () => {
  it('keeps target and sessionState when comments and blanks are inserted and keywords change case', () => {
    fc.assert(
      fc.property(disguised, ({ text, target, sessionState }) => {
        const c = classify(text);
        expect({ text, target: c.target, sessionState: c.sessionState }).toEqual({
          text,
          target,
          sessionState,
        });
      }),
      { numRuns: 3000 },
    );
  });

  const anything = fc.oneof(
    fc.string(),
    fc.string({ unit: 'binary' }),
    fc.string({ unit: 'grapheme' }),
    fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
    fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes).toString('utf8')),
    fc
      .array(
        fc.constantFrom(
          'SELECT',
          'DELETE',
          'FOR',
          'UPDATE',
          'INTO',
          '@x',
          '@@',
          '@',
          ':=',
          '(',
          ')',
          ';',
          "'",
          '"',
          '`',
          '\\',
          '/*',
          '*/',
          '/*!',
          '/*M!',
          '--',
          '-- ',
          '#',
          '\n',
          '\0',
          ' ',
          '.',
          'rwsplit:primary',
          'é',
          '\uD800',
        ),
        { maxLength: 30 },
      )
      .map((parts) => parts.join('')),
  );
  const reasons = new Set<string>(CLASSIFY_REASONS);

  it('never throws and always answers with a known reason', () => {
    fc.assert(
      fc.property(anything, (text) => {
        const c = classify(text);
        expect(['primary', 'replica']).toContain(c.target);
        expect(reasons).toContain(c.reason);
        expect(typeof c.sessionState).toBe('boolean');
        expect(typeof c.operation).toBe('string');
        if (c.target === 'replica') expect(c.reason).toBe('read');
      }),
      { numRuns: 5000 },
    );
  });

  it('never lets a write after any text reach a replica', () => {
    fc.assert(
      fc.property(anything, (text) => {
        expect(classify(`${text}\n;DELETE FROM t`).target).toBe('primary');
        expect(classify(`DELETE FROM t;${text}`).target).toBe('primary');
      }),
      { numRuns: 5000 },
    );
  });
});

/** Statements with their tokens separated by single spaces, and what each does to the transaction. */
const effects: readonly (readonly [sql: string, effect: TransactionEffect])[] = [
  ['BEGIN WORK', 'begin'],
  ['START TRANSACTION READ WRITE , WITH CONSISTENT SNAPSHOT', 'begin'],
  ['START TRANSACTION WITH CONSISTENT SNAPSHOT , READ ONLY', 'begin-read-only'],
  ['COMMIT WORK AND NO CHAIN NO RELEASE', 'commit'],
  ['ROLLBACK', 'rollback'],
  ['ROLLBACK WORK AND CHAIN', 'chain'],
  ['COMMIT AND NO CHAIN RELEASE', 'end-and-disconnect'],
  ['SAVEPOINT a', 'savepoint'],
  ['RELEASE SAVEPOINT `a`', 'release-savepoint'],
  ['ROLLBACK WORK TO SAVEPOINT a', 'rollback-to'],
  ['ROLLBACK TO a', 'rollback-to'],
  ["XA START 'x' , 'b'", 'xa-start'],
  ["XA PREPARE 'x'", 'xa-end'],
  ["XA COMMIT 'x' ONE PHASE", 'xa-commit'],
  ["XA ROLLBACK 'x'", 'xa-rollback'],
  ['XA RECOVER', 'xa-recover'],
  ['CREATE TABLE t ( a INT )', 'implicit-commit'],
  ['LOCK TABLES t WRITE', 'implicit-commit'],
  ['LOAD INDEX INTO CACHE t', 'implicit-commit'],
  ['STOP REPLICA', 'implicit-commit'],
  ['CREATE TEMPORARY TABLE t ( a INT )', 'none'],
  ['SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED', 'none'],
  ['SET GLOBAL autocommit = 0', 'none'],
  ['SET @a = 1 , autocommit = 0', 'autocommit-off'],
  ['SET @@session.autocommit := ON', 'autocommit-on'],
  ["SET SESSION autocommit = 'ON' , NAMES utf8mb4", 'autocommit-on'],
  ['SELECT * FROM t FOR UPDATE', 'none'],
  ['BEGIN NOT ATOMIC COMMIT ; END', 'none'],
  ['BEGIN ; INSERT INTO t VALUES ( 1 )', 'begin'],
  ['INSERT INTO t VALUES ( 1 ) ; COMMIT', 'commit'],
  ['COMMIT ; START TRANSACTION READ ONLY', 'begin-read-only'],
];

describe('transaction effect properties', () => {
  const effect = fc.constantFrom(...effects);

  it('keeps the effect when comments and blanks are inserted and keywords change case', () => {
    fc.assert(
      fc.property(
        effect.chain(([sql, expected]) => disguise(sql).map((text) => ({ text, expected }))),
        ({ text, expected }) => {
          expect({ text, effect: classify(text).transaction }).toEqual({ text, effect: expected });
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('keeps the effect inside executable comments, after hints and around reads', () => {
    const version = fc.stringMatching(/^\d{0,6}$/);
    fc.assert(
      fc.property(effect, version, fc.constantFrom('/*!', '/*M!'), ([sql, expected], v, open) => {
        expect(classify(`${open}${v} ${sql} */`).transaction).toBe(expected);
        expect(classify(`/* rwsplit:replica */ ${sql}`).transaction).toBe(expected);
        expect(classify(`SELECT 1; ${sql}`).transaction).toBe(expected);
        expect(classify(`${sql}; SELECT 1;`).transaction).toBe(expected);
      }),
    );
  });

  it('finds no effect in statements hidden in comments or strings', () => {
    fc.assert(
      fc.property(effect, ([sql]) => {
        expect(classify(`SELECT 1 /* ${sql} */`).transaction).toBe('none');
        expect(classify(`SELECT 1 -- ${sql}`).transaction).toBe('none');
        expect(classify(`SELECT ${JSON.stringify(sql)}`).transaction).toBe('none');
      }),
    );
  });

  const soup = fc
    .array(
      fc.constantFrom(
        'BEGIN',
        'START',
        'TRANSACTION',
        'COMMIT',
        'ROLLBACK',
        'WORK',
        'AND',
        'NO',
        'CHAIN',
        'RELEASE',
        'TO',
        'SAVEPOINT',
        'XA',
        'END',
        'READ',
        'ONLY',
        'SET',
        'autocommit',
        '@@autocommit',
        '@@global.',
        '=',
        ':=',
        ',',
        '0',
        'ON',
        'GLOBAL',
        'NOT',
        'ATOMIC',
        'LOCK',
        'TABLES',
        ';',
        '(',
        ')',
        "'",
        '`',
        '/*',
        '*/',
        '/*!',
        '-- ',
        '\n',
        ' ',
        'a',
      ),
      { maxLength: 30 },
    )
    .map((parts) => parts.join(' '));
  const effectNames = new Set<string>(TRANSACTION_EFFECTS);

  it('always reports an effect from TRANSACTION_EFFECTS, whatever the text', () => {
    fc.assert(
      fc.property(fc.oneof(soup, fc.string(), fc.string({ unit: 'binary' })), (text) => {
        expect(effectNames).toContain(classify(text).transaction);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('megabyte statements', () => {
  const mb = 1 << 20;

  it('classifies a 1 MB select list in one pass', () => {
    const columns = Array.from({ length: mb / 8 }, (_, i) => `c${i}`).join(', ');
    const sql = `SELECT ${columns} FROM t`;
    expect(sql.length).toBeGreaterThan(mb);
    expect(classify(sql)).toMatchObject({ target: 'replica', reason: 'read' });
    expect(classify(`${sql} FOR UPDATE`)).toMatchObject({ target: 'primary', reason: 'locking read' });
  });

  it('classifies megabyte literals, comments and statement lists', () => {
    expect(classify(`SELECT '${'x'.repeat(mb)}' FROM t`).reason).toBe('read');
    expect(classify(`SELECT '${"\\'".repeat(mb / 2)}' FROM t`).reason).toBe('read');
    expect(classify(`SELECT ${'"a\\\\b", '.repeat(mb / 8)}1`).reason).toBe('read');
    expect(classify(`SELECT 1 /*${' FOR UPDATE'.repeat(mb / 11)}*/`).reason).toBe('read');
    expect(classify(`/*${'r'.repeat(mb)}*/ SELECT 1`).reason).toBe('read');
    expect(classify(`/*${'rwsplit'.repeat(mb / 7)}*/ SELECT 1`).hint).toBeUndefined();
    expect(classify('SELECT 1;'.repeat(mb / 9)).reason).toBe('read');
    expect(classify(`${'('.repeat(mb)}SELECT 1`).target).toBe('replica');
    expect(classify(`SELECT 1 /*!${" 'a'".repeat(mb / 4)} */`).reason).toBe('read');
    expect(classify(`SELECT '${'x'.repeat(mb)}`).reason).toBe('unterminated literal');
    expect(classify(`SELECT 1 /*${'x'.repeat(mb)}`).reason).toBe('unterminated literal');
  });
});
