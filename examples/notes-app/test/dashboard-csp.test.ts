import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PUBLIC_DIR } from '../src/app.js';

/**
 * What the dashboard's Content-Security-Policy (README, "Dashboard") would block, found in its source:
 * `script-src 'self'` and `style-src 'self'` without 'unsafe-inline' or 'unsafe-eval' refuse inline
 * scripts and styles, event handler attributes, style attributes, and code built from strings; every
 * other directive allows only the page's own origin. A browser would drop these with a console error;
 * this finds them before one does.
 */
function htmlProblems(html: string): string[] {
  const problems: string[] = [];
  for (const [tag] of html.matchAll(/<[a-z][^>]*>/gi)) {
    if (/\son[a-z]+\s*=/i.test(tag)) problems.push(`event handler attribute: ${tag}`);
    if (/\sstyle\s*=/i.test(tag)) problems.push(`style attribute: ${tag}`);
    if (/^<style\b/i.test(tag)) problems.push(`inline style element: ${tag}`);
    if (/\s(?:src|href|action)\s*=\s*["']?\s*(?:javascript:|(?:https?:)?\/\/)/i.test(tag))
      problems.push(`URL off the page's own origin: ${tag}`);
  }
  for (const [script] of html.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/gi))
    if (!/^<script\b[^>]*><\/script>$/i.test(script)) problems.push('script element with inline code');
  return problems;
}

/** Comments may talk about `<script>` or eval; only code counts. */
function withoutComments(source: string): string {
  // A `//` after a colon is a URL (the SVG namespace), not a comment.
  return source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|\s)\/\/.*$/gm, '$1');
}

const SCRIPT_RULES: readonly [RegExp, string][] = [
  [/\beval\s*\(/, 'eval'],
  [/\bnew\s+Function\s*\(/, 'new Function'],
  [/\bset(?:Timeout|Interval)\s*\(\s*['"`]/, 'timer with a string of code'],
  [/\b(?:innerHTML|outerHTML|insertAdjacentHTML)\b|document\.write/, 'markup from a string'],
  [/setAttribute(?:NS)?\s*\(\s*(?:[^,]+,\s*)?['"`]style['"`]/, "setAttribute('style', ...)"],
  [/\bstyle\s*=\s*['"`]|['"`][^'"`]*\bstyle\s*=/, 'style attribute in a string'],
  [/[{,]\s*style\s*:/, 'style passed as an element property'],
  [/['"`][^'"`]*\bon[a-z]+\s*=\s*\\?['"]/, 'event handler attribute in a string'],
];

function scriptProblems(name: string, source: string): string[] {
  const code = withoutComments(source);
  return SCRIPT_RULES.filter(([rule]) => rule.test(code)).map(([, what]) => `${name}: ${what}`);
}

function styleProblems(name: string, css: string): string[] {
  const problems: string[] = [];
  if (/@import\s+(?:url\()?\s*["']?(?:https?:)?\/\//i.test(css))
    problems.push(`${name}: @import off the origin`);
  if (/url\(\s*["']?(?:https?:)?\/\//i.test(css)) problems.push(`${name}: url() off the origin`);
  if (/expression\s*\(/i.test(css)) problems.push(`${name}: CSS expression`);
  return problems;
}

const ASSETS = join(PUBLIC_DIR, 'assets');
const read = (path: string) => readFileSync(path, 'utf8');

describe('the dashboard under its Content-Security-Policy', () => {
  it('index.html has no inline script, style or event handler and loads only from its own origin', () => {
    expect(htmlProblems(read(join(PUBLIC_DIR, 'index.html')))).toEqual([]);
  });

  it('its scripts build no code from strings and set no style attribute', () => {
    const scripts = readdirSync(ASSETS).filter((name) => name.endsWith('.js'));
    expect(scripts.length).toBeGreaterThan(0);
    expect(scripts.flatMap((name) => scriptProblems(name, read(join(ASSETS, name))))).toEqual([]);
  });

  it('its stylesheets load nothing from elsewhere', () => {
    const sheets = readdirSync(ASSETS).filter((name) => name.endsWith('.css'));
    expect(sheets.flatMap((name) => styleProblems(name, read(join(ASSETS, name))))).toEqual([]);
  });

  // The checks above pass only if they can fail: each of these is something the policy blocks.
  it('finds what the policy would block', () => {
    expect(
      htmlProblems(
        '<script>alert(1)</script><style>p{}</style><p style="color:red" onclick="x()">' +
          '<script src="https://cdn.example/x.js"></script><a href="javascript:void 0">',
      ),
    ).toHaveLength(6);
    const bad = [
      'eval(text);',
      "const f = new Function('a', 'return a');",
      "setTimeout('poll()', 10);",
      'box.innerHTML = html;',
      "node.setAttribute('style', 'color: red');",
      'const html = `<p style="color: red">`;',
      "el('p', { className: 'x', style: 'color: red' });",
      'const html = \'<button onclick="go()">\';',
    ];
    for (const line of bad) expect(scriptProblems('fixture.js', line), line).toHaveLength(1);
    const allowed = "node.style.width = '40px'; // eval('x')\n/* box.innerHTML = html */";
    expect(scriptProblems('fine.js', allowed)).toEqual([]);
  });
});
