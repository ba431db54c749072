// Small DOM helpers and the formatting every dashboard panel shares.

const SVG_NS = 'http://www.w3.org/2000/svg';

// The page runs under a Content-Security-Policy with `style-src 'self'` (see the README), which blocks
// style attributes: say so where one is attempted rather than have the browser drop it with a console
// error. Style with a class in style.css, or one property at a time through `node.style`.
function refuseStyleAttribute(key) {
  if (key === 'style') throw new TypeError("No style attributes under the page's CSP: use a class");
}

export const byId = (id) => document.getElementById(id);

/** `el('span', { className: 'x' }, 'text', child)`: strings become text nodes, never markup. */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    refuseStyleAttribute(key);
    if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key in node) node[key] = value;
    else node.setAttribute(key, value);
  }
  node.append(...children.filter((child) => child !== null && child !== undefined && child !== false));
  return node;
}

export function svgEl(tag, attributes = {}, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attributes)) {
    refuseStyleAttribute(key);
    node.setAttribute(key, String(value));
  }
  if (text !== undefined) node.textContent = text;
  return node;
}

export const numberFormat = new Intl.NumberFormat();

export function formatMs(ms) {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  // Number() drops trailing zeros, so axis ticks read "2 s", "2.5 s" rather than "2.00 s".
  return `${Number((ms / 1_000).toFixed(ms < 10_000 ? 2 : 1))} s`;
}

/**
 * A stable colour slot per app server, so server-1 keeps its colour across polls and reloads. Uses the
 * trailing number when there is one (server-1, server-2 never collide), else a string hash.
 */
export function serverTone(name) {
  const number = /(\d+)$/.exec(name);
  if (number) return String((Number(number[1]) - 1) % 6);
  let hash = 0;
  for (const char of name) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return String(hash % 6);
}

/** The short label of a server in the history strip: its number, or its first letters. */
export function serverShort(name) {
  return /(\d+)$/.exec(name)?.[1] ?? name.slice(0, 2);
}
