import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ClusterError } from '../src/errors.js';
import { renderTemplate, TEMPLATE_DIR } from '../src/templates.js';

describe('renderTemplate', () => {
  it('substitutes values', () => {
    expect(renderTemplate('port = {{port}}\nhost = {{host}}', { port: 3306, host: '127.1.2.21' })).toBe(
      'port = 3306\nhost = 127.1.2.21',
    );
  });

  it('repeats a section per list item with the item in scope, leaving no blank lines', () => {
    const text =
      'backend app\n{{#servers}}\n    server {{name}} {{host}}{{flag}}\n{{/servers}}\n    option x\n';
    const out = renderTemplate(text, {
      flag: '',
      servers: [
        { name: 's1', host: 'a' },
        { name: 's2', host: 'b', flag: ' backup' },
      ],
    });
    expect(out).toBe('backend app\n    server s1 a\n    server s2 b backup\n    option x\n');
  });

  it('keeps a section for true and drops it for false', () => {
    expect(renderTemplate('a{{#on}}B{{/on}}{{#off}}C{{/off}}d', { on: true, off: false })).toBe('aBd');
  });

  it('renders nested sections independently of each other', () => {
    const out = renderTemplate('{{#a}}[{{x}}{{#b}}({{y}}){{/b}}]{{/a}}', {
      a: [
        { x: 1, b: [{ y: 2 }, { y: 3 }] },
        { x: 4, b: [] },
      ],
    });
    expect(out).toBe('[1(2)(3)][4]');
  });

  it('fails on an unknown name instead of rendering an empty setting', () => {
    expect(() => renderTemplate('port = {{prot}}', { port: 1 }, 'x.tmpl')).toThrow(ClusterError);
    expect(() => renderTemplate('port = {{prot}}', { port: 1 }, 'x.tmpl')).toThrow(
      'x.tmpl: no value for {{prot}}',
    );
  });

  it('fails on a section that is never closed', () => {
    expect(() => renderTemplate('{{#servers}} x', { servers: [] })).toThrow('never closed');
  });

  it('every template under templates/ names only values the harness provides', () => {
    // A cheap guard that the one template set stays renderable: each tag is a plain identifier.
    for (const dir of readdirSync(TEMPLATE_DIR)) {
      for (const file of readdirSync(join(TEMPLATE_DIR, dir)).filter((f) => f.endsWith('.tmpl'))) {
        const text = readFileSync(join(TEMPLATE_DIR, dir, file), 'utf8');
        for (const tag of text.match(/\{\{[^}]*\}\}/g) ?? [])
          expect(tag).toMatch(/^\{\{[#/]?[A-Za-z][A-Za-z0-9_]*\}\}$/);
      }
    }
  });
});
