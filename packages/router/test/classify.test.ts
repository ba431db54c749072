import { describe, expect, it } from 'vitest';
import type { RouteTarget } from '../src/classify/classification.js';
import {
  CLASSIFY_REASONS,
  type ClassifyReason,
  classify,
  TRANSACTION_EFFECTS,
  type TransactionEffect,
} from '../src/classify/index.js';

type Case = readonly [sql: string, target: RouteTarget, reason: ClassifyReason, sessionState: boolean];

const read = (sql: string): Case => [sql, 'replica', 'read', false];
const primary =
  (reason: ClassifyReason, sessionState = false) =>
  (sql: string): Case => [sql, 'primary', reason, sessionState];

function routes(title: string, cases: readonly Case[]): void {
  describe(title, () => {
    it.each(cases)('routes %j to %s (%s, sessionState %s)', (sql, target, reason, sessionState) => {
      const c = classify(sql);
      expect({ target: c.target, reason: c.reason, sessionState: c.sessionState }).toEqual({
        target,
        reason,
        sessionState,
      });
    });
  });
}

routes(
  'reads that a replica may serve',
  [
    'SELECT * FROM notes WHERE id = ?',
    'select id, title from notes order by id desc limit 10',
    'SeLeCt 1',
    'SELECT 1',
    'SELECT 1;',
    '(SELECT 1)',
    '((SELECT a FROM t))',
    '(SELECT a FROM t1) UNION (SELECT a FROM t2)',
    'SELECT a FROM t1 UNION ALL SELECT a FROM t2',
    'SELECT a FROM t1 INTERSECT SELECT a FROM t2',
    'SELECT a FROM t1 EXCEPT SELECT a FROM t2',
    'SELECT * FROM t WHERE id IN (SELECT id FROM u WHERE x > 1)',
    'SELECT (SELECT COUNT(*) FROM u) AS n FROM t',
    'SELECT * FROM t1 JOIN t2 ON t1.id = t2.id WHERE t2.x BETWEEN 1 AND 2',
    'WITH c AS (SELECT 1 AS x) SELECT x FROM c',
    'WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < 10) SELECT n FROM seq',
    'with a as (select 1), b as (select 2) select * from a, b',
    '(WITH c AS (SELECT 1) SELECT * FROM c)',
    'TABLE notes',
    'TABLE notes ORDER BY id LIMIT 5',
    'VALUES ROW(1, 2), ROW(3, 4)',
    'VALUES (1, 2), (3, 4)',
    'SHOW TABLES',
    'SHOW CREATE TABLE notes',
    "SHOW VARIABLES LIKE 'max_connections'",
    'SHOW FULL PROCESSLIST',
    'SHOW REPLICA STATUS',
    'SHOW SLAVE STATUS',
    'SHOW GLOBAL STATUS',
    'SHOW GRANTS FOR CURRENT_USER',
    'DESCRIBE notes',
    'DESC notes',
    'DESC `notes`',
    'DESCRIBE notes title',
    'DESC user',
    'EXPLAIN notes',
    'EXPLAIN SELECT * FROM notes',
    'EXPLAIN FORMAT=JSON SELECT * FROM notes',
    'EXPLAIN FORMAT = TREE SELECT 1',
    "EXPLAIN FORMAT='JSON' SELECT 1",
    'EXPLAIN EXTENDED SELECT 1',
    'EXPLAIN PARTITIONS SELECT 1',
    'EXPLAIN (SELECT 1)',
    'EXPLAIN TABLE notes',
    'DESCRIBE SELECT * FROM notes',
    'EXPLAIN ANALYZE SELECT * FROM notes',
    'EXPLAIN ANALYZE FORMAT=TREE SELECT 1',
    'ANALYZE SELECT * FROM notes',
    'ANALYZE FORMAT=JSON SELECT * FROM notes',
    "HELP 'SELECT'",
    "SELECT * FROM t FOR SYSTEM_TIME AS OF TIMESTAMP '2020-01-01 00:00:00'",
    'SELECT SUBSTRING(title FROM 1 FOR 3) FROM notes',
    "SELECT REPLACE(title, 'a', 'b') FROM notes",
    "SELECT INSERT(title, 1, 2, 'x') FROM notes",
    "SELECT INSERT ('abc', 1, 1, 'x')",
    'SELECT SLEEP(1)',
    "SELECT BENCHMARK(10, MD5('x'))",
    'SELECT NOW(), UUID(), RAND(), CONNECTION_ID()',
    "SELECT MASTER_GTID_WAIT('0-1-5', 1)",
    'SELECT @@version',
    'SELECT @@session.sql_mode, @@GLOBAL.read_only',
    'SELECT row_count, found_rows, last_insert_id FROM stats',
    'SELECT t.update, t.delete, t.lock, t.into FROM t',
    'SELECT `update`, `delete` FROM t',
    'SELECT `for` FROM t WHERE `update` = 1',
    'SELECT "delete" FROM t',
    "SELECT 'FOR UPDATE' FROM t",
    "SELECT * FROM notes WHERE title LIKE '%update%'",
    "SELECT 'it''s', 'a\\'b', 'c\\\\' FROM t",
    'SELECT "a""b", "c\\\\" FROM t',
    'SELECT `a``b` FROM t',
    "SELECT N'abc', _utf8mb4'x', X'41', B'01', 0x41, 1.5e3",
    'SELECT * FROM `db`.`t` WHERE `t`.`id` = 1.5',
    'SELECT 1 -- FOR UPDATE',
    'SELECT 1 --\tFOR UPDATE',
    'SELECT 1 # FOR UPDATE',
    'SELECT 1 /* FOR UPDATE */',
    'SELECT 1 /* DELETE FROM t; */',
    'SELECT 1--1',
    'SELECT /*+ MAX_EXECUTION_TIME(1000) */ * FROM notes',
    'SELECT /*+ SET_VAR(sort_buffer_size = 16M) */ * FROM notes',
    '/* leading */ SELECT 1',
    '-- leading\nSELECT 1',
    '# leading\nSELECT 1',
    '/*!40100 SELECT 1 */',
    'SELECT 1 /*!99999 */',
    'SELECT COUNT(*) FROM notes',
    "SELECT JSON_EXTRACT(doc, '$.a') FROM t",
    'SELECT ROW(1, 2) = ROW(1, 2)',
    'SELECT 1; SELECT 2',
    'SELECT 1;;; SELECT 2;',
    "SELECT ';'; SELECT 2",
    'SELECT 1; /* only a comment */',
    'SET STATEMENT max_statement_time = 1 FOR SELECT * FROM notes',
    'SELECT \u00e9t\u00e9 FROM caf\u00e9',
  ].map(read),
);

routes(
  'locking reads',
  [
    'SELECT * FROM t WHERE id = 1 FOR UPDATE',
    'select * from t for update nowait',
    'SELECT * FROM t FOR UPDATE SKIP LOCKED',
    'SELECT * FROM t FOR SHARE',
    'select * from t for share skip locked',
    'SELECT * FROM t FOR SHARE OF t NOWAIT',
    'SELECT * FROM t1 JOIN t2 USING (id) FOR UPDATE OF t1, t2',
    'SELECT * FROM t LOCK IN SHARE MODE',
    'SELECT * FROM t FOR UPDATE WAIT 5',
    '(SELECT * FROM t FOR UPDATE)',
    'SELECT * FROM t WHERE id IN (SELECT id FROM u FOR UPDATE)',
    'WITH c AS (SELECT 1) SELECT * FROM t FOR UPDATE',
    'SELECT * FROM t FOR /* comment */ UPDATE',
    'SELECT * FROM t\nFOR\nUPDATE',
    'SELECT * FROM t /*! FOR UPDATE */',
    'SELECT * FROM t /*!50000 FOR UPDATE */',
    'SELECT * FROM t /*M!100500 FOR UPDATE */',
    'EXPLAIN ANALYZE SELECT * FROM t FOR UPDATE',
    'EXPLAIN SELECT * FROM t FOR UPDATE',
    'SET STATEMENT max_statement_time = 1 FOR SELECT * FROM t FOR UPDATE',
  ].map(primary('locking read')),
);

routes('select into', [
  ...[
    'SELECT a INTO @x FROM t',
    'SELECT a FROM t INTO @x',
    'SELECT a, b INTO @x, @y FROM t',
    'SELECT a FROM t LIMIT 1 INTO @x',
    'SELECT a INTO @`x` FROM t',
    "SELECT a INTO @'x y' FROM t",
    'WITH c AS (SELECT 1 AS x) SELECT x INTO @v FROM c',
    'SELECT 1 INTO @x',
  ].map(primary('select into', true)),
  ...[
    "SELECT * FROM t INTO OUTFILE '/tmp/t.txt'",
    "SELECT * INTO DUMPFILE '/tmp/t.bin' FROM t",
    "TABLE t INTO OUTFILE '/tmp/t.txt'",
  ].map(primary('select into')),
]);

routes('functions that only mean something on the primary', [
  ...[
    'SELECT LAST_INSERT_ID()',
    'select last_insert_id ()',
    'SELECT * FROM t WHERE id = LAST_INSERT_ID( /* none */ )',
    'SELECT FOUND_ROWS()',
    'SELECT ROW_COUNT()',
    "SELECT IS_FREE_LOCK('job')",
    'SELECT NEXTVAL(seq)',
    'SELECT NEXT VALUE FOR seq',
    'select next value for seq',
    'SELECT PREVIOUS VALUE FOR seq',
    'SELECT LASTVAL(seq)',
    'SELECT SETVAL(seq, 100)',
    'SELECT seq.nextval',
    'SELECT seq.currval',
    'SELECT SQL_CALC_FOUND_ROWS * FROM t LIMIT 10',
    'SELECT @@identity',
    'SELECT @@last_insert_id',
  ].map(primary('primary-only function')),
  ...[
    'SELECT LAST_INSERT_ID(42)',
    "SELECT GET_LOCK('job', 10)",
    "SELECT get_lock /* spaced */ ('job', 10)",
    "SELECT RELEASE_LOCK('job')",
    'SELECT RELEASE_ALL_LOCKS()',
    "SELECT IS_USED_LOCK('job')",
    "SELECT COALESCE(GET_LOCK('a', 0), 0) FROM t",
    "EXPLAIN ANALYZE SELECT GET_LOCK('a', 1)",
  ].map(primary('primary-only function', true)),
]);

routes(
  'reads whose answer belongs to the connection or the primary',
  [
    'SELECT @x',
    'SELECT * FROM t WHERE id = @id',
    'SELECT @a.b',
    'SELECT @@warning_count',
    'SELECT @@error_count',
    'SELECT @@session.last_gtid',
    'SELECT @@insert_id',
    'SELECT @@`identity`',
    'SHOW WARNINGS',
    'SHOW ERRORS',
    'SHOW COUNT(*) WARNINGS',
    'SHOW PROFILES',
    'SHOW PROFILE FOR QUERY 1',
    'SHOW MASTER STATUS',
    'SHOW BINARY LOG STATUS',
    'SHOW BINARY LOGS',
    'SHOW BINLOG EVENTS',
    'SHOW EXPLAIN FOR 5',
    'EXPLAIN FOR CONNECTION 5',
  ].map(primary('primary-only read')),
);

routes(
  'statements that leave state in the connection',
  [
    'SET NAMES utf8mb4',
    'SET CHARACTER SET utf8mb4',
    "SET SESSION sql_mode = 'STRICT_ALL_TABLES'",
    'SET @x = 1',
    'SET @x := 1',
    "set @@session.time_zone = '+00:00'",
    'SET GLOBAL max_connections = 500',
    'SET ROLE ALL',
    'USE notes',
    'CREATE TEMPORARY TABLE tmp (id INT)',
    'create temporary table if not exists tmp select * from notes',
    'CREATE OR REPLACE TEMPORARY TABLE tmp (id INT)',
    'CREATE TEMPORARY SEQUENCE s',
    'DROP TEMPORARY TABLE tmp',
    'DROP TEMPORARY TABLE IF EXISTS tmp',
    'LOCK TABLES notes READ',
    'LOCK TABLE notes WRITE, users READ',
    'UNLOCK TABLES',
    'LOCK INSTANCE FOR BACKUP',
    "PREPARE s FROM 'SELECT 1'",
    'EXECUTE s USING @a',
    'DEALLOCATE PREPARE s',
    'DROP PREPARE s',
    "EXECUTE IMMEDIATE 'SELECT 1'",
    'HANDLER t OPEN',
    'HANDLER t READ FIRST',
    'SELECT @x := 1',
    'SELECT @rownum := @rownum + 1 AS r FROM t',
    'SELECT * FROM t, (SELECT @r := 0) init',
    'FLUSH TABLES WITH READ LOCK',
    'FLUSH TABLES t FOR EXPORT',
    'GET DIAGNOSTICS @n = NUMBER',
    '/*!40101 SET NAMES utf8 */',
    '/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE */;',
    '/*M!100100 SET @x = 1 */',
  ].map(primary('session state', true)),
);

routes(
  'transaction control',
  [
    'BEGIN',
    'begin work',
    'START TRANSACTION',
    'START TRANSACTION READ ONLY',
    'START TRANSACTION WITH CONSISTENT SNAPSHOT',
    'COMMIT',
    'COMMIT WORK AND CHAIN',
    'ROLLBACK',
    'ROLLBACK TO SAVEPOINT sp1',
    'SAVEPOINT sp1',
    'RELEASE SAVEPOINT sp1',
    "XA START 'x'",
    "XA COMMIT 'x'",
    'XA RECOVER',
    'SET autocommit = 0',
    'SET AUTOCOMMIT=1',
    'SET @@autocommit = 0',
    'SET @@session.autocommit = 0',
    'SET SESSION autocommit = 0',
    'SET TRANSACTION ISOLATION LEVEL READ COMMITTED',
    'SET SESSION TRANSACTION READ ONLY',
    'set global transaction isolation level serializable',
  ].map(primary('transaction control', true)),
);

routes('writes', [
  ...[
    "INSERT INTO notes (title) VALUES ('hi')",
    "insert notes set title = 'x'",
    'INSERT INTO t SELECT * FROM u',
    'INSERT INTO t VALUES (1) ON DUPLICATE KEY UPDATE a = 1',
    'INSERT IGNORE INTO t VALUES (1)',
    "INSERT INTO t (a) VALUES ('SELECT')",
    'INSERT INTO t VALUES (NEXT VALUE FOR s)',
    'REPLACE INTO t VALUES (1)',
    'REPLACE t (a) VALUES (1)',
    "UPDATE notes SET title = 'x' WHERE id = 1",
    'UPDATE t1 JOIN t2 ON t1.id = t2.id SET t1.a = t2.a',
    'DELETE FROM notes WHERE id = 1',
    'delete from notes',
    'DELETE t1 FROM t1 JOIN t2 ON t1.id = t2.id',
    'WITH c AS (SELECT id FROM t) UPDATE t JOIN c USING (id) SET a = 1',
    'WITH c AS (SELECT id FROM t) DELETE FROM t WHERE id IN (SELECT id FROM c)',
    'WITH RECURSIVE c AS (SELECT 1) DELETE FROM t',
    "LOAD DATA INFILE '/tmp/x' INTO TABLE t",
    "LOAD DATA LOCAL INFILE 'x' INTO TABLE t",
    "LOAD XML INFILE 'x' INTO TABLE t",
    "IMPORT TABLE FROM '/tmp/t.sdi'",
    '/*!50000 INSERT */ INTO t VALUES (1)',
    'SET STATEMENT max_statement_time = 1 FOR UPDATE t SET a = 1',
    'SET STATEMENT foreign_key_checks = 0 FOR DELETE FROM t',
  ].map(primary('write')),
  ...[
    'UPDATE t SET a = LAST_INSERT_ID(a + 1)',
    'UPDATE t SET a = (@x := a + 1)',
    "INSERT INTO t VALUES (GET_LOCK('a', 0))",
  ].map(primary('write', true)),
]);

routes(
  'ddl',
  [
    'CREATE TABLE t (id INT)',
    'CREATE TABLE t AS SELECT * FROM u',
    'CREATE OR REPLACE VIEW v AS SELECT 1',
    'CREATE INDEX i ON t (a)',
    'CREATE DATABASE d',
    'CREATE SEQUENCE s',
    'CREATE PROCEDURE p() SELECT 1',
    'CREATE DEFINER = CURRENT_USER TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1',
    'ALTER TABLE t ADD COLUMN b INT',
    'ALTER DATABASE d CHARACTER SET utf8mb4',
    'DROP TABLE t',
    'DROP TABLE IF EXISTS t',
    'DROP VIEW v',
    'DROP SEQUENCE s',
    'RENAME TABLE a TO b',
    'TRUNCATE TABLE t',
    'truncate t',
  ].map(primary('ddl')),
);

routes(
  'dcl',
  [
    "GRANT SELECT ON db.* TO 'u'@'%'",
    "REVOKE ALL ON *.* FROM 'u'@'%'",
    "CREATE USER 'u'@'%' IDENTIFIED BY 'p'",
    "CREATE OR REPLACE USER 'u'",
    'CREATE ROLE r',
    "DROP USER 'u'@'%'",
    'DROP ROLE r',
    "ALTER USER 'u'@'%' IDENTIFIED BY 'p'",
    "RENAME USER 'a' TO 'b'",
    "SET PASSWORD FOR 'u'@'%' = 'x'",
    "SET PASSWORD = 'x'",
    "SET DEFAULT ROLE r TO 'u'",
  ].map(primary('dcl')),
);

routes(
  'administration',
  [
    'ANALYZE TABLE t',
    'ANALYZE NO_WRITE_TO_BINLOG TABLE t',
    'ANALYZE LOCAL TABLE t',
    'OPTIMIZE TABLE t',
    'REPAIR TABLE t',
    'CHECK TABLE t',
    'CHECKSUM TABLE t',
    'FLUSH PRIVILEGES',
    'FLUSH TABLES',
    'RESET QUERY CACHE',
    "PURGE BINARY LOGS TO 'mysql-bin.000010'",
    'KILL 42',
    'KILL QUERY 42',
    'SHUTDOWN',
    "INSTALL PLUGIN x SONAME 'y'",
    "CHANGE MASTER TO MASTER_HOST = 'x'",
    "CHANGE REPLICATION SOURCE TO SOURCE_HOST = 'x'",
    'START REPLICA',
    'START SLAVE',
    'STOP REPLICA',
    'CACHE INDEX t IN hot',
  ].map(primary('admin')),
);

routes('code the text does not show', [
  ...['CALL p()', "CALL p(1, 'a')", 'DO SLEEP(1)'].map(primary('procedure call')),
  ...['CALL p(@out)', "DO GET_LOCK('a', 0)", "DO RELEASE_LOCK('a')", 'BEGIN NOT ATOMIC SELECT 1 END'].map(
    primary('procedure call', true),
  ),
]);

routes('EXPLAIN and ANALYZE of writes', [
  ...[
    'EXPLAIN UPDATE t SET a = 1',
    'EXPLAIN DELETE FROM t',
    'EXPLAIN INSERT INTO t VALUES (1)',
    'EXPLAIN REPLACE INTO t VALUES (1)',
    'DESCRIBE UPDATE t SET a = 1',
    'EXPLAIN FORMAT=JSON UPDATE t SET a = 1',
    'EXPLAIN WITH c AS (SELECT 1) UPDATE t SET a = 1',
  ].map(primary('explain of a write')),
  ...[
    'EXPLAIN ANALYZE UPDATE t SET a = 1',
    'EXPLAIN ANALYZE DELETE FROM t',
    'ANALYZE UPDATE t SET a = 1',
    'ANALYZE DELETE FROM t WHERE a = 1',
    'ANALYZE FORMAT=JSON DELETE FROM t',
  ].map(primary('explain analyze of a write')),
]);

routes('several statements in one text', [
  ...[
    'SELECT 1; DELETE FROM t',
    'DELETE FROM t; SELECT 1',
    'SELECT 1; SELECT 2 FOR UPDATE',
    'SELECT 1 -- x\n; DELETE FROM t',
    'SELECT 1 # x\n; DELETE FROM t',
    'SELECT 1 # x\0; DELETE FROM t',
    'SELECT 1; garbage',
    'CREATE PROCEDURE p() BEGIN SELECT 1; END',
  ].map(primary('multi-statement write')),
  ...['SET NAMES utf8; SELECT 1', 'BEGIN; UPDATE t SET a = 1; COMMIT', 'SELECT 1; SELECT @x := 2'].map(
    primary('multi-statement write', true),
  ),
]);

routes('statements it does not know', [
  ...['FOO BAR', '42', 'DELIMITER //', "SIGNAL SQLSTATE '45000'", '(1)', '(INSERT INTO t VALUES (1))'].map(
    primary('unknown statement'),
  ),
  ...['@x', "'SELECT 1'", '\0', 'EXPLAIN', 'EXPLAIN ANALYZE notes', ')(', '\uFEFFSELECT 1'].map(
    primary('unknown statement'),
  ),
]);

routes(
  'nothing to run',
  ['', '   \n\t', ';', ';;;', '/* just a comment */', '-- comment', '# comment', '/* rwsplit:primary */'].map(
    primary('empty statement'),
  ),
);

routes('unterminated or ambiguous literals', [
  ...[
    "SELECT 'abc",
    'SELECT "abc',
    'SELECT `abc',
    'SELECT 1 /* abc',
    "SELECT 'a\\'",
    "SELECT 'it''s",
    "'",
    '"',
    '`',
    "SELECT @'abc",
    '/*',
    "SELECT 1 /*!99999 ' */; DELETE FROM t; -- '",
    'SELECT 1 /*!99999 -- */ ; DELETE FROM t',
    'SELECT 1 /*!50000 /* nested */ */',
    'SELECT 1 /*M! FOR UPDATE',
    'SELECT "a\\"; DELETE FROM t; -- " FROM t',
    'SELECT "\\"" FROM t',
  ].map(primary('unterminated literal')),
  ...['/*!40101 SET NAMES utf8', "SET NAMES 'utf8"].map(primary('unterminated literal', true)),
]);

describe('routing hints', () => {
  it.each([
    ['/* rwsplit:primary */ SELECT 1', 'primary'],
    ['SELECT 1 /* RWSPLIT : REPLICA */', 'replica'],
    ['/*rwsplit:replica*/ DELETE FROM t', 'replica'],
    ['-- rwsplit:primary\nSELECT 1', 'primary'],
    ['# rwsplit:replica\nSELECT 1', 'replica'],
    ['/*+ rwsplit:primary */ SELECT 1', 'primary'],
    ['/* app=notes, rwsplit:replica */ SELECT 1', 'replica'],
    ['/* rwsplit:replica */ SELECT 1 /* rwsplit:primary */', 'primary'],
    ['/* rwsplit:\n\tprimary */ SELECT 1', 'primary'],
    ['SELECT 1; /* rwsplit:primary */ SELECT 2', 'primary'],
  ] as const)('reads the hint in %j as %s', (sql, hint) => {
    expect(classify(sql).hint).toBe(hint);
  });

  it.each([
    "SELECT '/* rwsplit:primary */'",
    'SELECT `rwsplit:primary`',
    '/* rwsplit:primaryx */ SELECT 1',
    '/* xrwsplit:primary */ SELECT 1',
    '/* rwsplit primary */ SELECT 1',
    '/*! rwsplit:primary */ SELECT 1',
    'SELECT 1',
  ])('finds no hint in %j', (sql) => {
    expect(classify(sql)).not.toHaveProperty('hint');
  });

  it('keeps describing the statement itself, so a replica hint on a write can be refused', () => {
    expect(classify('/* rwsplit:replica */ UPDATE t SET a = 1')).toEqual({
      target: 'primary',
      reason: 'write',
      sessionState: false,
      hint: 'replica',
      operation: 'UPDATE',
      transaction: 'none',
    });
    expect(classify('/* rwsplit:primary */ SELECT 1')).toMatchObject({ target: 'replica', hint: 'primary' });
  });
});

describe('transaction effect', () => {
  const cases: readonly (readonly [sql: string, effect: TransactionEffect])[] = [
    // most statements, and those that only prepare the next transaction
    ['SELECT 1', 'none'],
    ['INSERT INTO t VALUES (1)', 'none'],
    ['SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED', 'none'],
    ['SET TRANSACTION READ ONLY', 'none'],
    ['SET NAMES utf8mb4', 'none'],
    ['CALL p(@x)', 'none'],
    ["EXECUTE IMMEDIATE 'COMMIT'", 'none'],
    ['(COMMIT)', 'none'],
    ['', 'none'],
    // opening one
    ['BEGIN', 'begin'],
    ['begin work', 'begin'],
    ['START TRANSACTION', 'begin'],
    ['START TRANSACTION READ WRITE', 'begin'],
    ['START TRANSACTION WITH CONSISTENT SNAPSHOT', 'begin'],
    ['START TRANSACTION READ ONLY', 'begin-read-only'],
    ['START TRANSACTION READ ONLY, WITH CONSISTENT SNAPSHOT', 'begin-read-only'],
    ['start transaction with consistent snapshot, read only', 'begin-read-only'],
    ['START TRANSACTION READ ONLY, READ WRITE', 'begin'],
    ['/*!80000 START TRANSACTION */ /*M!100000 READ ONLY */', 'begin-read-only'],
    ['BEGIN NOT ATOMIC SELECT 1; END', 'none'],
    ['BEGIN NOT ATOMIC IF @x THEN COMMIT; END IF; END', 'none'],
    // ending one
    ['COMMIT', 'commit'],
    ['commit work', 'commit'],
    ['COMMIT AND NO CHAIN', 'commit'],
    ['commit and no chain no release', 'commit'],
    ['/*+ rwsplit:primary */ COMMIT;', 'commit'],
    ['ROLLBACK', 'rollback'],
    ['ROLLBACK WORK NO RELEASE', 'rollback'],
    ['COMMIT AND CHAIN', 'chain'],
    ['ROLLBACK WORK AND CHAIN NO RELEASE', 'chain'],
    ['COMMIT RELEASE', 'end-and-disconnect'],
    ['COMMIT WORK AND NO CHAIN RELEASE', 'end-and-disconnect'],
    ['rollback release', 'end-and-disconnect'],
    ['COMMIT AND CHAIN RELEASE', 'none'],
    ['COMMIT TO a', 'none'],
    ['COMMIT NOW', 'none'],
    // savepoints
    ['SAVEPOINT a', 'savepoint'],
    ['savepoint `a b`', 'savepoint'],
    ['RELEASE SAVEPOINT a', 'release-savepoint'],
    ['ROLLBACK TO SAVEPOINT a', 'rollback-to'],
    ['/* c */ ROLLBACK TO SAVEPOINT a', 'rollback-to'],
    ['rollback work to a', 'rollback-to'],
    ['ROLLBACK/*x*/TO a', 'rollback-to'],
    ['ROLLBACK -- to the start\nTO a', 'rollback-to'],
    ['ROLLBACK TO', 'none'],
    ['SAVEPOINT', 'none'],
    ['RELEASE a', 'none'],
    // XA
    ["XA START 'x'", 'xa-start'],
    ["xa begin 'x', 'b', 1", 'xa-start'],
    ["XA END 'x'", 'xa-end'],
    ["XA PREPARE 'x'", 'xa-end'],
    ["XA COMMIT 'x' ONE PHASE", 'xa-commit'],
    ["XA ROLLBACK 'x'", 'xa-rollback'],
    ['XA RECOVER', 'xa-recover'],
    // statements that commit before they run
    ['CREATE TABLE t (a int)', 'implicit-commit'],
    ['CREATE OR REPLACE VIEW v AS SELECT 1', 'implicit-commit'],
    ['CREATE INDEX i ON t (a)', 'implicit-commit'],
    ['ALTER TABLE t ADD b int', 'implicit-commit'],
    ['DROP TABLE t', 'implicit-commit'],
    ['RENAME TABLE a TO b', 'implicit-commit'],
    ['TRUNCATE TABLE t', 'implicit-commit'],
    ['CREATE TEMPORARY TABLE t (a int)', 'none'],
    ['CREATE OR REPLACE TEMPORARY TABLE t (a int)', 'none'],
    ['DROP TEMPORARY TABLE t', 'none'],
    ['DROP PREPARE s', 'none'],
    ["GRANT SELECT ON db.* TO 'u'@'%'", 'implicit-commit'],
    ["REVOKE ALL ON db.* FROM 'u'", 'implicit-commit'],
    ["CREATE USER 'u' IDENTIFIED BY 'p'", 'implicit-commit'],
    ["ALTER USER 'u' ACCOUNT LOCK", 'implicit-commit'],
    ["RENAME USER 'a' TO 'b'", 'implicit-commit'],
    ['DROP ROLE r', 'implicit-commit'],
    ["SET PASSWORD = 'p'", 'implicit-commit'],
    ['SET DEFAULT ROLE r TO u', 'none'],
    ['LOCK TABLES t WRITE', 'implicit-commit'],
    ['lock table t read', 'implicit-commit'],
    ['UNLOCK TABLES', 'implicit-commit'],
    ['LOCK INSTANCE FOR BACKUP', 'none'],
    ['UNLOCK INSTANCE', 'none'],
    ['ANALYZE TABLE t', 'implicit-commit'],
    ['OPTIMIZE TABLE t', 'implicit-commit'],
    ['REPAIR TABLE t', 'implicit-commit'],
    ['CHECK TABLE t', 'implicit-commit'],
    ['CHECKSUM TABLE t', 'none'],
    ['FLUSH TABLES', 'implicit-commit'],
    ['FLUSH TABLES WITH READ LOCK', 'implicit-commit'],
    ['RESET MASTER', 'implicit-commit'],
    ['RESET PERSIST', 'none'],
    ['CACHE INDEX t IN c', 'implicit-commit'],
    ['LOAD INDEX INTO CACHE t', 'implicit-commit'],
    ["LOAD DATA INFILE 'f' INTO TABLE t", 'none'],
    ["IMPORT TABLE FROM '/tmp/t.sdi'", 'implicit-commit'],
    ['START REPLICA', 'implicit-commit'],
    ['STOP SLAVE', 'implicit-commit'],
    ['START ALL SLAVES', 'implicit-commit'],
    ['STOP GROUP_REPLICATION', 'implicit-commit'],
    ['START GROUP_REPLICATION', 'none'],
    ["CHANGE MASTER TO MASTER_HOST = 'h'", 'implicit-commit'],
    ["CHANGE REPLICATION SOURCE TO SOURCE_HOST = 'h'", 'implicit-commit'],
    ["INSTALL PLUGIN p SONAME 'p.so'", 'implicit-commit'],
    ['BACKUP STAGE START', 'implicit-commit'],
    ['BACKUP LOCK t', 'none'],
    ['PURGE BINARY LOGS BEFORE NOW()', 'none'],
    ['SET STATEMENT max_statement_time = 1 FOR CREATE TABLE t (a int)', 'implicit-commit'],
    // autocommit
    ['SET autocommit=0', 'autocommit-off'],
    ['set autocommit = off', 'autocommit-off'],
    ["SET autocommit = 'OFF'", 'autocommit-off'],
    ['SET SESSION autocommit = ON', 'autocommit-on'],
    ['SET @@autocommit:=1', 'autocommit-on'],
    ['SET @@session.autocommit = TRUE', 'autocommit-on'],
    ['SET LOCAL autocommit = 0', 'autocommit-off'],
    ['SET @a=1, autocommit=0', 'autocommit-off'],
    ['SET @a = CONCAT(1, 2), @@local.autocommit = 0, NAMES utf8mb4', 'autocommit-off'],
    ['SET autocommit = 0, autocommit = 1', 'autocommit-on'],
    ['SET autocommit = @x', 'autocommit-off'],
    ['SET autocommit = DEFAULT', 'autocommit-off'],
    ['SET autocommit = 1 + 0', 'autocommit-off'],
    ['SET autocommit = (1)', 'autocommit-off'],
    ['SET GLOBAL autocommit = 0', 'none'],
    ['SET PERSIST autocommit = 1', 'none'],
    ['SET @@global.autocommit = 0', 'none'],
    ['SET `autocommit` = 0', 'autocommit-off'],
    ['SET @@`autocommit` = 1', 'autocommit-on'],
    ["SET @@session.'autocommit' = 0", 'autocommit-off'],
    ['SET @@global.`autocommit` = 0', 'none'],
    ['SET autocommit = `ON`', 'autocommit-on'],
    ['SET t.autocommit = 0', 'none'],
    ['SET GLOBAL max_connections = 10, autocommit = 0', 'none'],
    ['SET GLOBAL max_connections = 10, SESSION autocommit = 0', 'autocommit-off'],
    ['SET @@global.autocommit = 1, autocommit = 0', 'autocommit-off'],
    ['SET STATEMENT max_statement_time = 1 FOR SET autocommit = 1', 'autocommit-on'],
    ['/*!40101 SET autocommit = 0 */', 'autocommit-off'],
    // several statements: the last one with an effect
    ['BEGIN; INSERT INTO t VALUES (1)', 'begin'],
    ['COMMIT; BEGIN', 'begin'],
    ['INSERT INTO t VALUES (1); COMMIT', 'commit'],
    ['START TRANSACTION; INSERT INTO t VALUES (1); COMMIT AND CHAIN; SELECT 1', 'chain'],
    ['SET autocommit = 0; SELECT 1;', 'autocommit-off'],
    ['BEGIN; BEGIN NOT ATOMIC COMMIT; END', 'begin'],
  ];

  it.each(cases)('gives %j the effect %s', (sql, effect) => {
    expect(classify(sql).transaction).toBe(effect);
  });

  it('covers every effect in TRANSACTION_EFFECTS', () => {
    expect(new Set(cases.map(([, effect]) => effect))).toEqual(new Set(TRANSACTION_EFFECTS));
  });

  it('reads the words after the verb as tokens, so comments and case between them change nothing', () => {
    expect(classify('ROLLBACK /* TO a */').transaction).toBe('rollback');
    expect(classify('COMMIT -- AND CHAIN\n').transaction).toBe('commit');
    expect(classify('START TRANSACTION /* READ ONLY */ READ WRITE').transaction).toBe('begin');
    expect(classify("SET @x = 'autocommit = 0'").transaction).toBe('none');
    expect(classify('COMMIT /*!50000 AND CHAIN */').transaction).toBe('chain');
    expect(classify('cOmMiT/**/wOrK/**/aNd/**/cHaIn').transaction).toBe('chain');
  });

  it('reports none for values that are not SQL text', () => {
    expect(classify(undefined as unknown as string).transaction).toBe('none');
  });
});

describe('operation', () => {
  it.each([
    ['SELECT 1', 'SELECT'],
    ['(SELECT 1) UNION (SELECT 2)', 'SELECT'],
    ['with c as (select 1) select * from c', 'WITH'],
    ['insert into t values (1)', 'INSERT'],
    ['  /* c */ show tables', 'SHOW'],
    ['/*!40101 SET NAMES utf8 */', 'SET'],
    ['explain select 1', 'EXPLAIN'],
    ['SET STATEMENT x = 1 FOR SELECT 1', 'SET'],
    ['SELECT 1; DELETE FROM t', 'SELECT'],
    ['; DELETE FROM t', 'DELETE'],
    ['signal sqlstate "45000"', 'SIGNAL'],
    ['', ''],
    ['42', ''],
    ['(1)', ''],
    ["'x'", ''],
    [`${'x'.repeat(40)} y`, ''],
  ])('names %j %j', (sql, operation) => {
    expect(classify(sql).operation).toBe(operation);
  });
});

describe('robustness', () => {
  it('gives only reasons from CLASSIFY_REASONS', () => {
    const reasons = new Set<string>(CLASSIFY_REASONS);
    for (const sql of ['SELECT 1', 'DELETE FROM t', "'", '', 'FOO'])
      expect(reasons).toContain(classify(sql).reason);
  });

  it('routes a value that is not a string to the primary instead of throwing', () => {
    expect(classify(undefined as unknown as string)).toMatchObject({
      target: 'primary',
      reason: 'unknown statement',
    });
    expect(classify({ sql: 'SELECT 1' } as unknown as string).target).toBe('primary');
  });

  it('handles deep nesting and long runs of punctuation without recursion', () => {
    const deep = `${'('.repeat(100_000)}SELECT 1${')'.repeat(100_000)}`;
    expect(classify(deep)).toMatchObject({ target: 'replica', operation: 'SELECT' });
    expect(classify(';'.repeat(100_000)).reason).toBe('empty statement');
    expect(classify(`SELECT ${'@'.repeat(100_000)}`).target).toBe('primary');
  });

  it('does not recurse through chains of SET STATEMENT ... FOR', () => {
    const chain = `${'SET STATEMENT a = 1 FOR '.repeat(50_000)}SELECT 1`;
    expect(classify(chain)).toMatchObject({ target: 'primary', reason: 'session state', operation: 'SET' });
  });

  it('returns a fresh result each time', () => {
    const a = classify('SELECT 1');
    const b = classify('SELECT 1');
    expect(a).toEqual(b);
    expect(a).not.toBe(b);
  });
});
