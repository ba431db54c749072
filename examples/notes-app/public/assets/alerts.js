// The alerts panel: what Alertmanager has firing now, from the app's internal /internal/alerts. Alert
// labels name hosts and nodes, so Nginx refuses that path (404) and the panel fills only where the page
// was opened on an app server's own address; through the load balancer it says so instead.

import { ApiError, api } from './api.js';
import { byId, el } from './dom.js';

const POLL_MS = 2_000;

function age(since) {
  const started = Date.parse(since);
  if (Number.isNaN(started)) return '';
  const seconds = Math.max(0, Math.round((Date.now() - started) / 1_000));
  if (seconds < 120) return `for ${seconds} s`;
  const minutes = Math.round(seconds / 60);
  return minutes < 120 ? `for ${minutes} min` : `for ${Math.round(minutes / 60)} h`;
}

function alertItem(alert) {
  // The labels that say which part fired, beside the rule's own words.
  const where = Object.entries(alert.labels)
    .filter(([key]) => key !== 'job')
    .map(([key, value]) => `${key}=${value}`)
    .join(' ');
  return el(
    'li',
    { className: `alert severity-${alert.severity}`, dataset: { alert: alert.name } },
    el(
      'div',
      { className: 'alert-head' },
      el('span', { className: 'severity' }, alert.severity),
      el('span', { className: 'alert-name' }, alert.name),
      el('span', { className: 'muted small', title: alert.since }, age(alert.since)),
    ),
    el('p', { className: 'alert-summary' }, alert.summary),
    where === '' ? null : el('p', { className: 'muted small mono' }, where),
  );
}

function show(...children) {
  byId('alerts').replaceChildren(...children);
}

/** Renders one answer of /internal/alerts. */
function renderAlerts(view) {
  byId('alerts-source').textContent = view.source
    ? `from Alertmanager · ${new Date().toLocaleTimeString()}`
    : '';
  if (view.source === null) {
    show(el('p', { className: 'empty' }, 'This app server was given no Alertmanager (ALERTMANAGER_URL).'));
  } else if (view.alerts.length === 0) {
    show(el('p', { className: 'empty quiet' }, 'Nothing is firing.'));
  } else {
    show(el('ol', { className: 'alerts' }, ...view.alerts.map(alertItem)));
  }
}

function showWhereToLook() {
  show(
    el(
      'p',
      { className: 'empty' },
      'Alerts are internal: open this dashboard on an app server’s own address (where /metrics is) to see them.',
    ),
  );
}

async function poll() {
  try {
    renderAlerts((await api('/internal/alerts')).data);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      // Internal paths stop at a proxy this page did not recognise as one. No point asking again.
      showWhereToLook();
      return;
    }
    byId('alerts-source').textContent = '';
    show(el('p', { className: 'form-error' }, `Could not load the alerts: ${error.message}`));
  }
  setTimeout(poll, POLL_MS);
}

/**
 * Starts the panel once the first status answer says how the page is served: through Nginx (it names
 * the server in X-Served-By) internal paths are refused, so the panel says where to look without asking
 * (a refused request is a console error in every browser); on the app's own address it polls.
 */
export function startAlerts({ throughProxy }) {
  if (throughProxy) showWhereToLook();
  else poll();
}
