// A Grafana dashboard over serve's /metrics: per listener and server state, connections, bytes, check latency,
// and (with a VIP) which host holds it. Every query selects the scrape job (selector.ts) and the
// $instance / $listener variables.
import { createHash } from 'node:crypto';
import type { Spec } from '../../spec/types.js';
import { clusterInfo, series } from './selector.js';

export interface Query { expr: string; legend: string }

interface StateMapping { value: number; text: string; color: string }

export interface PanelPlan {
  title: string;
  type: 'stat' | 'state-timeline' | 'timeseries';
  description: string;
  unit?: string;
  queries: Query[];
  states?: StateMapping[];
  width: number;
  height: number;
}

export interface RowPlan { title: string; panels: PanelPlan[] }

const RATE = '$__rate_interval';
const where = { instance: '$instance' };
const perListener = { instance: '$instance', proxy: '$listener' };
const m = (name: string, labels: Record<string, string> = {}, patterns: Record<string, string> = perListener) => series(name, labels, patterns);
/** One number per series from a one-hot metric (one series per state, 1 for the current one): a state timeline's value. */
const oneOf = (metric: string, label: string, by: string, weights: Record<string, number>, patterns: Record<string, string>) =>
  Object.entries(weights).map(([state, weight]) => `${weight} * sum by (${by}) (${m(metric, { [label]: state }, patterns)})`).join(' + ');

/** The panels, row by row: a pure plan the test reads (every query) and dashboardJson lays out. */
export function dashboardRows(spec: Spec): RowPlan[] {
  const rows: RowPlan[] = [
    {
      title: 'Listeners and servers',
      panels: [
        { title: 'Servers up and ready', type: 'stat', width: 6, height: 6, description: 'Servers of each listener that take new connections (haproxy_backend_active_servers). 0 means clients get nothing.', queries: [{ expr: m('haproxy_backend_active_servers'), legend: '{{proxy}} on {{instance}}' }] },
        {
          title: 'Server health', type: 'state-timeline', width: 9, height: 6, description: 'Health state set by checks (cluster_endpoint_server_state).',
          queries: [{ expr: oneOf('cluster_endpoint_server_state', 'state', 'instance, proxy, server', { up: 2, checking: 1 }, perListener), legend: '{{proxy}} {{server}} ({{instance}})' }],
          states: [{ value: 0, text: 'down', color: 'red' }, { value: 1, text: 'checking', color: 'yellow' }, { value: 2, text: 'up', color: 'green' }],
        },
        {
          title: 'Server admin state', type: 'state-timeline', width: 9, height: 6, description: 'Set by the operator: drain (no new connections) and maint (no traffic at all) (cluster_endpoint_server_admin_state).',
          queries: [{ expr: oneOf('cluster_endpoint_server_admin_state', 'state', 'instance, proxy, server', { drain: 1, maint: 2 }, perListener), legend: '{{proxy}} {{server}} ({{instance}})' }],
          states: [{ value: 0, text: 'ready', color: 'green' }, { value: 1, text: 'drain', color: 'orange' }, { value: 2, text: 'maint', color: 'blue' }],
        },
        { title: 'Open connections', type: 'timeseries', width: 8, height: 8, description: 'Client connections open now, per listener (haproxy_frontend_current_sessions).', queries: [{ expr: m('haproxy_frontend_current_sessions'), legend: '{{proxy}} on {{instance}}' }] },
        {
          title: 'New connections', type: 'timeseries', unit: 'cps', width: 8, height: 8, description: 'Accepted per second, and those closed because no server could take them.',
          queries: [
            { expr: `rate(${m('haproxy_frontend_sessions_total')}[${RATE}])`, legend: '{{proxy}} accepted ({{instance}})' },
            { expr: `rate(${m('cluster_endpoint_frontend_no_server_total')}[${RATE}])`, legend: '{{proxy}} no server ({{instance}})' },
          ],
        },
        { title: 'Connections per server', type: 'timeseries', width: 8, height: 8, description: 'Connections open to each server (haproxy_server_current_sessions).', queries: [{ expr: m('haproxy_server_current_sessions'), legend: '{{proxy}} {{server}} ({{instance}})' }] },
        {
          title: 'Bytes', type: 'timeseries', unit: 'Bps', width: 8, height: 8, description: 'Bytes per second from clients (in) and to clients (out), per listener.',
          queries: [
            { expr: `rate(${m('haproxy_frontend_bytes_in_total')}[${RATE}])`, legend: '{{proxy}} in ({{instance}})' },
            { expr: `rate(${m('haproxy_frontend_bytes_out_total')}[${RATE}])`, legend: '{{proxy}} out ({{instance}})' },
          ],
        },
        { title: 'Health check latency', type: 'timeseries', unit: 's', width: 8, height: 8, description: 'Duration of the latest check of each server (haproxy_server_check_duration_seconds). Near the check timeout, checks start failing.', queries: [{ expr: m('haproxy_server_check_duration_seconds'), legend: '{{proxy}} {{server}} ({{instance}})' }] },
        {
          title: 'Connect errors and redispatches', type: 'timeseries', unit: 'cps', width: 8, height: 8, description: 'Failed connects to servers per second, and connections moved to another server after one.',
          queries: [
            { expr: `rate(${m('haproxy_server_connection_errors_total')}[${RATE}])`, legend: '{{proxy}} {{server}} errors ({{instance}})' },
            { expr: `rate(${m('haproxy_server_redispatch_warnings_total')}[${RATE}])`, legend: '{{proxy}} {{server}} redispatched ({{instance}})' },
          ],
        },
      ],
    },
  ];
  if (spec.vip && spec.vip.peers.length > 0) {
    const vip = { address: spec.vip.address };
    rows.push({
      title: `VIP ${spec.vip.address}`,
      panels: [
        {
          title: 'VIP role per host', type: 'state-timeline', width: 12, height: 6, description: 'The host in master holds the address (cluster_endpoint_vip_role).',
          queries: [{ expr: oneOf('cluster_endpoint_vip_role', 'role', 'instance', { master: 3, backup: 2, fault: 1 }, where), legend: '{{instance}}' }],
          states: [{ value: 0, text: 'init', color: 'text' }, { value: 1, text: 'fault', color: 'red' }, { value: 2, text: 'backup', color: 'blue' }, { value: 3, text: 'master', color: 'green' }],
        },
        { title: 'VIP holders', type: 'stat', width: 4, height: 6, description: 'Hosts that hold the VIP now: 1 is right, 0 is an outage, 2 a split brain.', queries: [{ expr: `count(${series('cluster_endpoint_vip_role', { ...vip, role: 'master' })} == 1) or vector(0)`, legend: 'holders' }] },
        { title: 'VIP transitions', type: 'timeseries', width: 8, height: 6, description: 'Role changes per host (cluster_endpoint_vip_transitions_total).', queries: [{ expr: `increase(${series('cluster_endpoint_vip_transitions_total', vip, where)}[${RATE}])`, legend: '{{instance}}' }] },
      ],
    });
  }
  if (spec.bgp) {
    rows.push({
      title: `BGP ${spec.endpoint}`,
      panels: [
        {
          title: 'Route announced per host and router', type: 'state-timeline', width: 12, height: 6, description: 'Whether each host exports the endpoint to each router (cluster_endpoint_bgp_route_announced). A host that withdraws carries no traffic.',
          queries: [{ expr: series('cluster_endpoint_bgp_route_announced', {}, where), legend: '{{instance}} → {{peer}}' }],
          states: [{ value: 0, text: 'withdrawn', color: 'red' }, { value: 1, text: 'announced', color: 'green' }],
        },
        {
          title: 'BGP sessions', type: 'state-timeline', width: 6, height: 6, description: 'Established sessions with each router (cluster_endpoint_bgp_session_up).',
          queries: [{ expr: series('cluster_endpoint_bgp_session_up', {}, where), legend: '{{instance}} → {{peer}}' }],
          states: [{ value: 0, text: 'down', color: 'red' }, { value: 1, text: 'established', color: 'green' }],
        },
        { title: 'Session drops', type: 'timeseries', width: 6, height: 6, description: 'Established sessions lost (cluster_endpoint_bgp_session_drops_total).', queries: [{ expr: `increase(${series('cluster_endpoint_bgp_session_drops_total', {}, where)}[${RATE}])`, legend: '{{instance}} → {{peer}}' }] },
      ],
    });
  }
  rows.push({
    title: 'Process',
    panels: [
      {
        title: 'Config reloads', type: 'timeseries', width: 12, height: 6, description: 'Reloads by result, and whether the last one succeeded (0: the previous config still serves).',
        queries: [
          { expr: `increase(${series('cluster_endpoint_config_reloads_total', {}, where)}[${RATE}])`, legend: '{{result}} ({{instance}})' },
          { expr: series('cluster_endpoint_config_last_reload_successful', {}, where), legend: 'last reload ok ({{instance}})' },
        ],
      },
      { title: 'File descriptors used', type: 'timeseries', unit: 'percentunit', width: 12, height: 6, description: 'Open descriptors over the limit; each proxied connection takes two.', queries: [{ expr: `${series('process_open_fds', {}, where)} / ${series('process_max_fds', {}, where)}`, legend: '{{instance}}' }] },
    ],
  });
  return rows;
}

/** Grafana's dashboard JSON model (schemaVersion 39): rows of panels, 24 columns wide. */
export function dashboardJson(spec: Spec, description: string): Record<string, unknown> {
  const datasource = { type: 'prometheus', uid: '${datasource}' };
  const panels: Record<string, unknown>[] = [];
  let id = 1;
  let y = 0;
  for (const row of dashboardRows(spec)) {
    panels.push({ id: id++, type: 'row', title: row.title, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y: y++ }, panels: [] });
    let x = 0;
    let rowHeight = 0;
    for (const panel of row.panels) {
      if (x + panel.width > 24) { y += rowHeight; x = 0; rowHeight = 0; }
      panels.push(panelJson(panel, id++, { h: panel.height, w: panel.width, x, y }, datasource));
      x += panel.width;
      rowHeight = Math.max(rowHeight, panel.height);
    }
    y += rowHeight;
  }
  return {
    title: `cluster-endpoint: ${spec.cluster.name} (${spec.endpoint})`,
    uid: dashboardUid(spec),
    description,
    tags: ['cluster-endpoint', 'kubernetes', 'talos'],
    timezone: 'browser',
    editable: true,
    schemaVersion: 39,
    time: { from: 'now-1h', to: 'now' },
    refresh: '30s',
    templating: {
      list: [
        { name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus', current: {}, hide: 0 },
        // "All" lists this cluster's hosts (no catch-all regular expression): other clusters' hosts stay out.
        variable('instance', 'LB host', `label_values(${clusterInfo(spec)}, instance)`, datasource, false),
        variable('listener', 'Listener', `label_values(${series('haproxy_backend_active_servers', {}, { instance: '$instance' })}, proxy)`, datasource),
      ],
    },
    annotations: { list: [] },
    panels,
  };
}

/** Grafana's uid (at most 40 characters) for a cluster and endpoint: two clusters never share a dashboard. */
export function dashboardUid(spec: Spec): string {
  const digest = createHash('sha256').update(`${spec.cluster.name}\n${spec.endpoint}`).digest('hex').slice(0, 8);
  return `ce-${spec.cluster.name}`.slice(0, 31) + `-${digest}`;
}

function variable(name: string, label: string, query: string, datasource: Record<string, string>, catchAll = true): Record<string, unknown> {
  return { name, label, type: 'query', datasource, query: { query, refId: `${name}-values` }, definition: query, refresh: 2, includeAll: true, ...(catchAll ? { allValue: '.*' } : {}), multi: true, current: { selected: true, text: 'All', value: '$__all' }, hide: 0, sort: 1 };
}

function panelJson(panel: PanelPlan, id: number, gridPos: Record<string, number>, datasource: Record<string, string>): Record<string, unknown> {
  const mappings = panel.states ? [{ type: 'value', options: Object.fromEntries(panel.states.map((s, index) => [String(s.value), { text: s.text, color: s.color, index }])) }] : [];
  return {
    id, type: panel.type, title: panel.title, description: panel.description, datasource, gridPos,
    targets: panel.queries.map((q, index) => ({ refId: String.fromCharCode(65 + index), datasource, expr: q.expr, legendFormat: q.legend, range: true })),
    fieldConfig: { defaults: { ...(panel.unit ? { unit: panel.unit } : {}), mappings, ...(panel.states ? { color: { mode: 'thresholds' }, thresholds: { mode: 'absolute', steps: [{ color: panel.states[0].color, value: null }] } } : {}) }, overrides: [] },
    options: panel.type === 'timeseries' ? { legend: { displayMode: 'list', placement: 'bottom' }, tooltip: { mode: 'multi' } } : {},
  };
}

