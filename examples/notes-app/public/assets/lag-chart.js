// The replication-lag chart: one line per replica over the last minute, drawn as SVG.

import { byId, el, formatMs, svgEl } from './dom.js';

const CHART_WINDOW_MS = 60_000;
// Below this the y-axis stops shrinking, so a few ms of jitter does not look like a spike.
const CHART_MIN_SCALE_MS = 100;
const CHART_HEIGHT = 170;

/** Replica names in a stable order: from the topology and from history (a replica may have gone). */
function replicaNames(status) {
  const names = new Set(status.topology.filter((node) => node.role !== 'primary').map((node) => node.name));
  for (const sample of status.lagHistory) for (const name of Object.keys(sample.lagMs)) names.add(name);
  return [...names].sort((a, b) => a.localeCompare(b));
}

/** A round tick step (1, 2, 2.5 or 5 × 10^n) giving about four intervals up to `max`. */
function tickStep(max) {
  const raw = max / 4;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((candidate) => candidate >= raw);
  return step ?? 10 * magnitude;
}

export function renderLagChart(status) {
  const svg = byId('lag-chart');
  const width = Math.max(svg.clientWidth, 280);
  const height = CHART_HEIGHT;
  const margin = { top: 10, right: 14, bottom: 24, left: 52 };
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('height', String(height));

  const names = replicaNames(status);
  const samples = status.lagHistory;
  // The window ends at the newest sample, so the right edge is "now" as the server measured it.
  const end = samples.at(-1)?.at ?? status.now;
  const start = end - CHART_WINDOW_MS;

  let highest = 0;
  for (const sample of samples) {
    for (const value of Object.values(sample.lagMs))
      if (typeof value === 'number') highest = Math.max(highest, value);
  }
  // 10 % headroom so the highest point does not sit on the frame.
  const wanted = Math.max(CHART_MIN_SCALE_MS, highest * 1.1);
  const step = tickStep(wanted);
  const top = Math.ceil(wanted / step) * step;

  const x = (at) => margin.left + ((at - start) / CHART_WINDOW_MS) * plotWidth;
  const y = (ms) => margin.top + plotHeight - (Math.min(ms, top) / top) * plotHeight;

  const children = [];
  for (let value = 0; value <= top; value += step) {
    children.push(
      svgEl('line', { class: 'grid', x1: margin.left, x2: width - margin.right, y1: y(value), y2: y(value) }),
      svgEl(
        'text',
        { class: 'axis', x: margin.left - 6, y: y(value) + 4, 'text-anchor': 'end' },
        formatMs(value),
      ),
    );
  }
  for (let secondsAgo = 60; secondsAgo >= 0; secondsAgo -= 15) {
    const at = end - secondsAgo * 1_000;
    const anchor = secondsAgo === 60 ? 'start' : secondsAgo === 0 ? 'end' : 'middle';
    children.push(
      svgEl('line', {
        class: 'grid faint',
        x1: x(at),
        x2: x(at),
        y1: margin.top,
        y2: margin.top + plotHeight,
      }),
      svgEl(
        'text',
        { class: 'axis', x: x(at), y: height - 6, 'text-anchor': anchor },
        secondsAgo === 0 ? 'now' : `−${secondsAgo} s`,
      ),
    );
  }

  names.forEach((name, index) => {
    // A null sample (lag unknown: replica unreachable or not replicating) breaks the line rather than
    // drawing it down to zero, which would claim the replica was perfectly current.
    let path = '';
    let run = [];
    const isolated = [];
    const flush = () => {
      if (run.length === 1) isolated.push(run[0]);
      run = [];
    };
    for (const sample of samples) {
      const value = sample.lagMs[name];
      if (typeof value !== 'number' || sample.at < start) {
        flush();
        continue;
      }
      const point = [x(sample.at), y(value)];
      path += `${run.length === 0 ? 'M' : 'L'}${point[0].toFixed(1)},${point[1].toFixed(1)}`;
      run.push(point);
    }
    flush();
    const series = `series-${index % 6}`;
    if (path) children.push(svgEl('path', { class: `line ${series}`, d: path }));
    // A single known sample between gaps has no segment to draw: a dot keeps it visible.
    for (const [px, py] of isolated)
      children.push(svgEl('circle', { class: `point ${series}`, cx: px, cy: py, r: 2.5 }));
  });

  if (names.length === 0) {
    children.push(
      svgEl(
        'text',
        { class: 'axis empty-chart', x: width / 2, y: height / 2, 'text-anchor': 'middle' },
        'No replicas',
      ),
    );
  }
  svg.replaceChildren(...children);

  const latest = samples.at(-1)?.lagMs ?? {};
  const summary = names.map((name) => `${name} ${formatMs(latest[name])}`).join(', ');
  svg.setAttribute('aria-label', `Replication lag over the last minute. Now: ${summary || 'no replicas'}.`);
  byId('lag-legend').replaceChildren(
    ...names.map((name, index) =>
      el(
        'li',
        { dataset: { series: name } },
        el('span', { className: `swatch series-${index % 6}`, 'aria-hidden': 'true' }),
        el('span', {}, name),
        el(
          'span',
          { className: 'mono muted' },
          typeof latest[name] === 'number' ? formatMs(latest[name]) : 'no data now',
        ),
      ),
    ),
  );
}
