import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import * as errors from '../src/errors.js';
import {
  PrimaryUnavailableError,
  RouterClosedError,
  RwsplitError,
  StatementTimeoutError,
} from '../src/index.js';

type ErrorsModule = typeof errors;
type ErrorClass = abstract new (...args: never[]) => errors.RwsplitError;

const cause = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', errno: -111 });
const tlsCause = Object.assign(
  new Error(
    "Hostname/IP does not match certificate's altnames: IP: 10.0.0.22 is not in the cert's list: 10.0.0.23",
  ),
  { code: 'ERR_TLS_CERT_ALTNAME_INVALID' },
);
// Every reason, so that each branch of TlsVerificationError's message is checked (the compiler keeps the list whole).
const TLS_FAILURE_REASONS = Object.keys({
  'unknown CA': true,
  'self-signed': true,
  expired: true,
  'not yet valid': true,
  rejected: true,
  'name mismatch': true,
  'no TLS support': true,
  'not checked': true,
} satisfies Record<errors.TlsFailureReason, true>) as errors.TlsFailureReason[];

/** At least one instance of every class, made by the given copy of the module; every branch of a message. */
function samples(e: ErrorsModule): errors.RwsplitError[] {
  return [
    new e.InvalidOptionError('pool.max', 'expected an integer, got "ten"'),
    new e.InvalidArgumentError('Expected SQL text as the first argument'),
    new e.PrimaryUnavailableError('db-primary', 'ECONNREFUSED', cause),
    new e.ReplicaUnavailableError('db-replica-1', 'ECONNREFUSED', cause),
    new e.NoReplicaAvailableError(),
    new e.AcquireTimeoutError('db-primary', 100),
    new e.QueryFailedError('db-replica-1', cause),
    new e.WriteOutcomeUnknownError('db-primary', 'connection lost', cause),
    new e.WriteOutcomeUnknownError('db-primary', 'deadline passed'),
    new e.StatementTimeoutError('db-replica-1', 1_000),
    new e.CallbackApiError('getConnection'),
    new e.ConnectionLostError('db-primary', cause),
    new e.HintRefusedError('INSERT', 'write', 'hint'),
    new e.HintRefusedError('INSERT', 'write', 'readOnly transaction'),
    new e.SessionStateError('SET'),
    new e.SessionReleasedError(),
    new e.TransactionEndedError(),
    new e.TransactionResolutionUnknownError('db-primary', cause),
    new e.RouterClosedError(),
    new e.NotSupportedError(
      "Drizzle's iterator()",
      'the router does not stream rows',
      'Use `await` on the query instead, paginated for large results.',
    ),
    ...TLS_FAILURE_REASONS.map(
      (reason) => new e.TlsVerificationError('db-replica-1', '10.0.0.22:3306', reason, tlsCause),
    ),
  ];
}

/** The module's exported subclasses of RwsplitError, found by prototype (not by the instanceof under test). */
function exportedClasses(e: ErrorsModule): Map<string, ErrorClass> {
  const classes = new Map<string, ErrorClass>();
  for (const [name, value] of Object.entries(e)) {
    if (
      typeof value === 'function' &&
      Object.prototype.isPrototypeOf.call(e.RwsplitError.prototype, value.prototype)
    )
      classes.set(name, value as ErrorClass);
  }
  return classes;
}

/** The constructor that made `error`, by prototype, so the check cannot lean on Symbol.hasInstance. */
function classNameOf(error: object): string {
  return Object.getPrototypeOf(error).constructor.name;
}

// Verbs a message's advice starts with. A new message may need a new verb here: that is the point of the list.
const ADVICE_VERBS = new Set([
  'Check',
  'Create',
  'Fix',
  'Grant',
  'Make',
  'Pass',
  'Raise',
  'Release',
  'Remove',
  'Retry',
  'Run',
  'Set',
  'Start',
  'Use',
]);

/** A problem, then (as the last sentence) advice that starts with an imperative verb. */
function endsWithAdvice(message: string): boolean {
  const sentences = message.split(/(?<=[.!?])\s+(?=[A-Z`])/);
  const advice = sentences.at(-1) ?? '';
  return sentences.length >= 2 && startsWithAdvice(advice);
}

function startsWithAdvice(text: string): boolean {
  return ADVICE_VERBS.has(text.split(/[\s,;]/, 1)[0] ?? '');
}

describe('StatementTimeoutError on a held connection', () => {
  it('is not retryable and says the session or transaction has to start over', () => {
    const lost = new errors.StatementTimeoutError('db-primary', 1_000, undefined, { connectionLost: true });
    expect(lost).toMatchObject({ code: 'RWSPLIT_STATEMENT_TIMEOUT', retryable: false, connectionLost: true });
    expect(lost.message).toMatch(/start the work again/i);
    expect(new errors.StatementTimeoutError('db-replica-1', 1_000)).toMatchObject({
      retryable: true,
      connectionLost: false,
    });
  });
});

describe('error taxonomy', () => {
  it.each(samples(errors).map((error) => [classNameOf(error), error] as const))(
    '%s has a stable code, says whether a retry may help, and ends with what to do',
    (_, error) => {
      expect(error).toBeInstanceOf(RwsplitError);
      expect(error).toBeInstanceOf(Error);
      expect(errors.RWSPLIT_ERROR_CODES).toContain(error.code);
      expect(typeof error.retryable).toBe('boolean');
      expect(error.name).toBe(classNameOf(error));
      expect(endsWithAdvice(error.message), error.message).toBe(true);
    },
  );

  it('gives every code exactly one exported class, and every exported class one code', () => {
    const codes = errors.RWSPLIT_ERROR_CODES;
    expect(new Set(codes).size).toBe(codes.length);
    const classes = exportedClasses(errors);
    const instances = samples(errors);
    // A class without a sample would escape every check below: add one to samples().
    expect([...new Set(instances.map(classNameOf))].sort()).toEqual([...classes.keys()].sort());
    const classesOfCode = new Map<string, Set<string>>();
    const codesOfClass = new Map<string, Set<string>>();
    for (const error of instances) {
      classesOfCode.set(error.code, (classesOfCode.get(error.code) ?? new Set()).add(classNameOf(error)));
      codesOfClass.set(
        classNameOf(error),
        (codesOfClass.get(classNameOf(error)) ?? new Set()).add(error.code),
      );
    }
    for (const code of codes) {
      expect([...(classesOfCode.get(code) ?? [])], code).toHaveLength(1);
      const name = [...(classesOfCode.get(code) ?? [])][0] ?? '';
      expect(errors.RWSPLIT_ERROR_CLASSES[code], code).toBe(classes.get(name));
    }
    for (const [name, classCodes] of codesOfClass) expect([...classCodes], name).toHaveLength(1);
    expect(Object.keys(errors.RWSPLIT_ERROR_CLASSES).sort()).toEqual([...codes].sort());
  });

  it('rejects a message that states the problem without advice', () => {
    expect(endsWithAdvice('The router is closed.')).toBe(false);
    expect(endsWithAdvice('The router is closed. It runs nothing any more.')).toBe(false);
    expect(endsWithAdvice('Create a new router.')).toBe(false);
    expect(endsWithAdvice('Retry later. The primary is down.')).toBe(false);
    expect(endsWithAdvice('The router is closed. Create a new router.')).toBe(true);
  });

  it('keeps the driver error as cause, with its code and errno reachable, and names the node', () => {
    const error = new PrimaryUnavailableError('db-primary', 'ECONNREFUSED', cause);
    expect(error.cause).toBe(cause);
    expect((error.cause as typeof cause).code).toBe('ECONNREFUSED');
    expect(error.node).toBe('db-primary');
    expect(new RouterClosedError().node).toBeUndefined();
    expect(new RouterClosedError().cause).toBeUndefined();
  });

  it('keeps its brand on the prototype, out of what logs and JSON.stringify show', () => {
    const error = new PrimaryUnavailableError('db-primary', 'ECONNREFUSED');
    expect(Object.getOwnPropertySymbols(error)).toEqual([]);
    expect(JSON.parse(JSON.stringify(error))).toEqual({
      name: 'PrimaryUnavailableError',
      code: 'RWSPLIT_PRIMARY_UNAVAILABLE',
      retryable: true,
      node: 'db-primary',
    });
  });
});

describe('the README error table', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const section = readme.split(/^## /m).find((s) => s.startsWith('Errors\n')) ?? '';
  const rows = section
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) =>
      line
        .slice(1, -1)
        .split(' | ')
        .map((cell) => cell.trim()),
    );

  it.each(samples(errors).map((error) => [error.code, error] as const))(
    'has one row for %s naming its class, its retryable flag and what to do',
    (code, error) => {
      const matching = rows.filter((row) => row[0] === `\`${code}\``);
      expect(matching).toHaveLength(1);
      const [, className, retryable, happened, todo] = matching[0] ?? [];
      expect(className).toBe(`\`${classNameOf(error)}\``);
      expect(retryable).toBe(error.retryable ? 'yes' : 'no');
      expect(happened).toMatch(/\w/);
      expect(startsWithAdvice(todo ?? ''), todo).toBe(true);
    },
  );

  it('has no row for a code that does not exist', () => {
    const documented = rows.map((row) => row[0]?.replaceAll('`', ''));
    expect(documented.sort()).toEqual([...errors.RWSPLIT_ERROR_CODES].sort());
  });
});

// A second copy of errors.ts, as when two versions of @rwsplit/router are installed, or an app's
// bundle carries its own copy next to the ESM package: same source, a different module instance.
const copyDir = mkdtempSync(join(tmpdir(), 'rwsplit-errors-copy-'));
afterAll(() => rmSync(copyDir, { recursive: true, force: true }));

const loaders: [string, () => Promise<ErrorsModule>][] = [
  [
    'another installed copy (a different file)',
    async () => {
      const dir = join(copyDir, 'node_modules', '@rwsplit', 'router', 'src');
      mkdirSync(dir, { recursive: true });
      const file = join(dir, 'errors.ts');
      copyFileSync(fileURLToPath(new URL('../src/errors.ts', import.meta.url)), file);
      return (await import(/* @vite-ignore */ pathToFileURL(file).href)) as ErrorsModule;
    },
  ],
  [
    'the same file under another module URL',
    async () => {
      const url = new URL('../src/errors.ts?copy=2', import.meta.url).href;
      return (await import(/* @vite-ignore */ url)) as ErrorsModule;
    },
  ],
];

describe.each(loaders)('instanceof across copies: %s', (_, load) => {
  const loaded = load();

  it('is a distinct module whose errors fail a prototype check, so the brand is what is tested', async () => {
    const copy = await loaded;
    expect(copy.RwsplitError).not.toBe(RwsplitError);
    expect(copy.PrimaryUnavailableError).not.toBe(PrimaryUnavailableError);
    const foreign = new copy.PrimaryUnavailableError('db-primary', 'ECONNREFUSED');
    expect(Object.prototype.isPrototypeOf.call(RwsplitError.prototype, foreign)).toBe(false);
    expect(Function.prototype[Symbol.hasInstance].call(PrimaryUnavailableError, foreign)).toBe(false);
  });

  it('recognises every error of the other copy as RwsplitError and as the class of its code, both ways', async () => {
    const copy = await loaded;
    for (const [mine, theirs] of [
      [errors, copy],
      [copy, errors],
    ] as const) {
      for (const error of samples(theirs)) {
        expect(error instanceof mine.RwsplitError, error.name).toBe(true);
        for (const code of mine.RWSPLIT_ERROR_CODES) {
          // Only the class of its own code: a different subclass is never matched.
          expect(error instanceof mine.RWSPLIT_ERROR_CLASSES[code], `${error.name} / ${code}`).toBe(
            code === error.code,
          );
        }
      }
    }
  });

  it('recognises nothing else: an unrelated Error, an Error or plain object with an RWSPLIT_ code', async () => {
    const copy = await loaded;
    const lookalikes: unknown[] = [
      new Error('connect ECONNREFUSED'),
      cause,
      Object.assign(new Error('Primary is unavailable'), { code: 'RWSPLIT_PRIMARY_UNAVAILABLE' }),
      { name: 'PrimaryUnavailableError', code: 'RWSPLIT_PRIMARY_UNAVAILABLE', retryable: true },
      'RWSPLIT_PRIMARY_UNAVAILABLE',
      null,
      undefined,
    ];
    for (const module of [errors, copy]) {
      for (const value of lookalikes) {
        expect(value instanceof module.RwsplitError).toBe(false);
        expect(value instanceof module.PrimaryUnavailableError).toBe(false);
      }
    }
  });
});

describe('a class of your own that extends an rwsplit error', () => {
  class SlowReportError extends StatementTimeoutError {}

  it('keeps ordinary instanceof, and its instances are still the rwsplit class', () => {
    expect(new SlowReportError('db-replica-1', 30_000)).toBeInstanceOf(SlowReportError);
    expect(new SlowReportError('db-replica-1', 30_000)).toBeInstanceOf(StatementTimeoutError);
    expect(new SlowReportError('db-replica-1', 30_000)).toBeInstanceOf(RwsplitError);
    expect(new StatementTimeoutError('db-replica-1', 30_000)).not.toBeInstanceOf(SlowReportError);
  });
});
