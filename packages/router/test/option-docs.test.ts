import { readFileSync } from 'node:fs';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { CIRCUIT_BREAKER_DEFAULTS } from '../src/circuit-breaker-config.js';
import { CONSISTENCY_DEFAULTS } from '../src/consistency/consistency-config.js';
import { POOL_DEFAULTS } from '../src/pool-config.js';
import { resolveConfig } from '../src/resolve-config.js';
import { HEARTBEAT_DEFAULTS, LAG_DEFAULTS, MONITOR_DEFAULTS } from '../src/router-config.js';
import { TIMEOUTS_DEFAULTS } from '../src/timeouts-config.js';

/**
 * What a property's doc comment says after `Default:`. The first backticked value is the default; it is a
 * literal (`5000`, `true`, `'session'`) that a constant must hold, or an expression (`connection.user`)
 * that is worked out at runtime. Prose without backticks counts as an expression.
 */
type DocDefault =
  | { readonly literal: true; readonly value: unknown }
  | { readonly literal: false; readonly text: string };

function parseDefault(comment: string): DocDefault | undefined {
  const text = comment
    .replace(/^\/\*\*|\*\/$/g, '')
    .replace(/^\s*\*/gm, '')
    .replace(/\s+/g, ' ')
    .trim();
  const after = /\bDefault: (.*)$/.exec(text)?.[1];
  if (after === undefined) return undefined;
  const value = /^`([^`]+)`/.exec(after)?.[1];
  if (value === undefined) return { literal: false, text: after };
  if (/^-?\d+(\.\d+)?$/.test(value)) return { literal: true, value: Number(value) };
  if (value === 'true' || value === 'false') return { literal: true, value: value === 'true' };
  const quoted = /^'([^']*)'$/.exec(value)?.[1];
  return quoted === undefined ? { literal: false, text: value } : { literal: true, value: quoted };
}

/** Each property of `interfaceName` in `source`, with the default its doc comment states (if any). */
function documentedDefaults(source: string, interfaceName: string): Map<string, DocDefault | undefined> {
  const file = ts.createSourceFile('options.ts', source, ts.ScriptTarget.Latest, true);
  const declaration = file.statements.find(
    (s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === interfaceName,
  );
  if (declaration === undefined) throw new Error(`no interface ${interfaceName}`);
  const properties = new Map<string, DocDefault | undefined>();
  for (const member of declaration.members) {
    if (!ts.isPropertySignature(member) || !ts.isIdentifier(member.name)) continue;
    const docs = (ts.getLeadingCommentRanges(source, member.getFullStart()) ?? [])
      .map((range) => source.slice(range.pos, range.end))
      .filter((comment) => comment.startsWith('/**'));
    const doc = docs.at(-1);
    properties.set(member.name.text, doc === undefined ? undefined : parseDefault(doc));
  }
  return properties;
}

/** Where the docs and the constant disagree; empty when they agree. */
function defaultsMismatches(
  documented: ReadonlyMap<string, DocDefault | undefined>,
  defaults: Readonly<Record<string, unknown>>,
): string[] {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(defaults)) {
    const doc = documented.get(key);
    if (!documented.has(key)) problems.push(`${key}: in the constant, but not a property of the interface`);
    else if (doc === undefined) problems.push(`${key}: its doc comment states no "Default:"`);
    else if (!doc.literal) problems.push(`${key}: documented as \`${doc.text}\`, the constant says ${value}`);
    else if (doc.value !== value)
      problems.push(`${key}: documented as ${JSON.stringify(doc.value)}, the constant says ${value}`);
  }
  for (const [key, doc] of documented) {
    if (doc?.literal && !(key in defaults))
      problems.push(`${key}: documents ${JSON.stringify(doc.value)}, but the constant has no ${key}`);
  }
  return problems;
}

const source = (path: string) => readFileSync(new URL(`../src/${path}`, import.meta.url), 'utf8');

describe('option defaults: each doc comment states the constant the code uses', () => {
  it.each([
    ['pool-config.ts', 'PoolConfig', POOL_DEFAULTS],
    ['circuit-breaker-config.ts', 'CircuitBreakerConfig', CIRCUIT_BREAKER_DEFAULTS],
    ['timeouts-config.ts', 'TimeoutsConfig', TIMEOUTS_DEFAULTS],
    ['router-config.ts', 'MonitorOptions', MONITOR_DEFAULTS],
    ['router-config.ts', 'LagOptions', LAG_DEFAULTS],
    ['router-config.ts', 'HeartbeatOptions', HEARTBEAT_DEFAULTS],
    ['consistency/consistency-config.ts', 'ConsistencyConfig', CONSISTENCY_DEFAULTS],
  ] as const)('%s: %s', (path, name, defaults) => {
    expect(defaultsMismatches(documentedDefaults(source(path), name), defaults)).toEqual([]);
  });

  it('and resolveConfig applies those constants', () => {
    const config = resolveConfig({ primary: { host: 'p' }, connection: { database: 'app' } });
    expect(config.pool).toEqual(POOL_DEFAULTS);
    expect(config.circuitBreaker).toEqual(CIRCUIT_BREAKER_DEFAULTS);
    expect(config.timeouts).toEqual(TIMEOUTS_DEFAULTS);
    expect(config.monitor).toMatchObject(MONITOR_DEFAULTS);
    expect(config.lag).toEqual(LAG_DEFAULTS);
    expect(config.heartbeat).toEqual({ schema: 'app', ...HEARTBEAT_DEFAULTS });
    expect(config.consistency).toMatchObject(CONSISTENCY_DEFAULTS);
  });
});

describe('the doc-default checker', () => {
  const sample = `
    export interface Sample {
      /** Poll interval. Default: \`250\` ms. */
      readonly intervalMs?: number;
      /**
       * Wrapped over lines, with more
       * text after it. Default: \`10000\` ms (or \`backoffMs\` if that is longer).
       */
      readonly maxMs?: number;
      /** Default: \`'session'\`. */
      readonly mode?: string;
      /** Default: \`true\`. */
      readonly create?: boolean;
      /** Default: \`connection.user\`. */
      readonly user?: string;
      /** Default: unsigned tokens. */
      readonly secret?: string;
      /** No default stated. */
      readonly name?: string;
    }`;
  const documented = documentedDefaults(sample, 'Sample');

  it('reads literals, wrapped comments, and tells runtime expressions from literals', () => {
    expect(Object.fromEntries(documented)).toEqual({
      intervalMs: { literal: true, value: 250 },
      maxMs: { literal: true, value: 10_000 },
      mode: { literal: true, value: 'session' },
      create: { literal: true, value: true },
      user: { literal: false, text: 'connection.user' },
      secret: { literal: false, text: 'unsigned tokens.' },
      name: undefined,
    });
  });

  it('passes when they agree', () => {
    const defaults = { intervalMs: 250, maxMs: 10_000, mode: 'session', create: true };
    expect(defaultsMismatches(documented, defaults)).toEqual([]);
  });

  it('fails on a changed default, an undocumented key, and a documented default the constant lacks', () => {
    expect(
      defaultsMismatches(documented, { intervalMs: 500, maxMs: 10_000, mode: 'session', create: true }),
    ).toEqual(['intervalMs: documented as 250, the constant says 500']);
    expect(
      defaultsMismatches(documented, {
        intervalMs: 250,
        maxMs: 10_000,
        mode: 'session',
        create: true,
        name: 'x',
      }),
    ).toEqual(['name: its doc comment states no "Default:"']);
    expect(
      defaultsMismatches(documented, {
        intervalMs: 250,
        maxMs: 10_000,
        mode: 'session',
        create: true,
        user: 'root',
        timeoutMs: 1,
      }),
    ).toEqual([
      'user: documented as `connection.user`, the constant says root',
      'timeoutMs: in the constant, but not a property of the interface',
    ]);
    expect(defaultsMismatches(documented, { intervalMs: 250, maxMs: 10_000, create: true })).toEqual([
      'mode: documents "session", but the constant has no mode',
    ]);
  });
});
