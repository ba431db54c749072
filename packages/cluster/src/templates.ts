import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ClusterError } from './errors.js';

/**
 * The one template set: `templates/` in this package, beside `src/` and `dist/`, so the same URL finds it
 * from the TypeScript (in the repository, through the `source` condition) and from the build (installed).
 */
export const TEMPLATE_DIR = fileURLToPath(new URL('../templates/', import.meta.url));

export type TemplateValue = string | number | boolean | undefined | readonly TemplateScope[];
export interface TemplateScope {
  readonly [name: string]: TemplateValue;
}

const TAG = /\{\{([#/]?)([A-Za-z][A-Za-z0-9_]*)\}\}/;

/**
 * A deliberately tiny mustache subset: `{{name}}` substitutes, `{{#name}}…{{/name}}` repeats for each item
 * of a list (with the item's fields in scope) or keeps its body once for `true`. An unknown name throws,
 * so a typo in a template fails the start instead of rendering an empty setting.
 */
export function renderTemplate(text: string, scope: TemplateScope, source = 'template'): string {
  let out = '';
  let cursor = 0;
  // A fresh regex per call: sections render recursively, and a shared global regex's lastIndex would leak.
  const tags = new RegExp(TAG.source, 'g');
  for (let match = tags.exec(text); match; match = tags.exec(text)) {
    const [tag, kind, name] = match as unknown as [string, string, string];
    out += text.slice(cursor, match.index);
    cursor = match.index + tag.length;
    if (kind === '/') throw new ClusterError(`${source}: unexpected {{/${name}}}`, 'CLUSTER_INVALID_OPTION');
    const value = lookup(scope, name, source);
    if (kind === '') {
      out += String(value);
      continue;
    }
    const close = `{{/${name}}}`;
    const end = text.indexOf(close, cursor);
    if (end < 0) throw new ClusterError(`${source}: {{#${name}}} is never closed`, 'CLUSTER_INVALID_OPTION');
    const body = text.slice(cursor, end);
    cursor = end + close.length;
    // A section that starts and ends on its own lines leaves no blank line behind.
    const trimmed = body.startsWith('\n') && text[cursor] === '\n' ? body.slice(1) : body;
    if (Array.isArray(value)) {
      for (const item of value as readonly TemplateScope[]) {
        out += renderTemplate(trimmed, { ...scope, ...item }, source);
      }
    } else if (value === true) {
      out += renderTemplate(trimmed, scope, source);
    }
    if (trimmed !== body) cursor += 1;
    tags.lastIndex = cursor;
  }
  return out + text.slice(cursor);
}

function lookup(scope: TemplateScope, name: string, source: string): TemplateValue {
  if (!(name in scope)) {
    throw new ClusterError(`${source}: no value for {{${name}}}`, 'CLUSTER_INVALID_OPTION');
  }
  return scope[name];
}

/** Renders `templates/<relativePath>` into `target`; `mode` 0o600 for a file that holds a secret. */
export function renderTemplateFile(
  relativePath: string,
  scope: TemplateScope,
  target: string,
  mode = 0o644,
): void {
  const text = readFileSync(TEMPLATE_DIR + relativePath, 'utf8');
  writeFileSync(target, renderTemplate(text, scope, relativePath), { mode });
  // writeFileSync's mode applies only to a file it creates: a re-render keeps the file as strict.
  chmodSync(target, mode);
}

/** Writes a rendered configuration to `target`; `mode` 0o600 for one that holds a secret. */
export function writeRenderedFile(target: string, text: string, mode = 0o644): void {
  writeFileSync(target, text, { mode });
  // writeFileSync's mode applies only to a file it creates: a re-render keeps the file as strict.
  chmodSync(target, mode);
}

/** Renders `templates/<relativePath>` to a string (SQL scripts run through a connection). */
export function renderTemplateText(relativePath: string, scope: TemplateScope): string {
  return renderTemplate(readFileSync(TEMPLATE_DIR + relativePath, 'utf8'), scope, relativePath);
}
