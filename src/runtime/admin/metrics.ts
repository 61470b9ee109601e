// Prometheus metrics for /metrics. Every metric is declared once in METRICS and reads ONE snapshot
// per scrape: nothing is counted on the connection path.
//
// The snapshot's metrics are written straight into the text format (metricPieces): at 1,000 servers
// they are 50,000 series, and going through prom-client's metric objects (a label hash and a map entry
// per series, then serializing them again) took 75 ms and 2 MB of garbage per scrape; writing the
// lines takes a tenth of that. prom-client still provides the process metrics (CPU, memory, event-loop
// lag, handles) and the content type.
//
// Names: where the meaning is the same as HAProxy's built-in exporter (addons/promex), we reuse its
// exact name and labels (proxy = listener name, server = node name), so HAProxy dashboards and alerts
// work unchanged. Everything HAProxy has no word for lives under `cluster_endpoint_`.
// docs/metrics.md documents every name (a test checks it).
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { ServerSnapshot, StatusSnapshot, SyncSnapshot, VipRole } from '../snapshot.js';

type Labels = Record<string, string>;
type Emit = (labels: Labels, value: number) => void;

export interface MetricDefinition {
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  labels: readonly string[];
  /** Emits every series of this metric from one snapshot. */
  values(snapshot: StatusSnapshot, emit: Emit): void;
}

/** HAProxy's server states in promex (`haproxy_server_status{state}`). */
export const HAPROXY_SERVER_STATES = ['DOWN', 'UP', 'MAINT', 'DRAIN', 'NOLB'] as const;
export type HaproxyServerState = (typeof HAPROXY_SERVER_STATES)[number];

/** promex's rule: maint wins; up + drain is DRAIN; anything not up (our `checking` too) is DOWN. */
export function haproxyServerState(server: Pick<ServerSnapshot, 'state' | 'adminState'>): HaproxyServerState {
  if (server.adminState === 'maint') return 'MAINT';
  if (server.state === 'up') return server.adminState === 'drain' ? 'DRAIN' : 'UP';
  return 'DOWN';
}

const SERVER_STATES = ['checking', 'up', 'down'] as const;
const ADMIN_STATES = ['ready', 'drain', 'maint'] as const;
const VIP_ROLES: readonly VipRole[] = ['init', 'master', 'backup', 'fault'];

const seconds = (ms: number): number => ms / 1000;
const eligible = (server: ServerSnapshot): boolean => server.state === 'up' && server.adminState === 'ready';

function perListener(pick: (l: StatusSnapshot['listeners'][number]) => number) {
  return (s: StatusSnapshot, emit: Emit) => {
    for (const listener of s.listeners) emit({ proxy: listener.name }, pick(listener));
  };
}

function perServer(pick: (server: ServerSnapshot, s: StatusSnapshot) => number | undefined) {
  return (s: StatusSnapshot, emit: Emit) => {
    for (const listener of s.listeners) {
      for (const server of listener.servers) {
        const value = pick(server, s);
        if (value !== undefined) emit({ proxy: listener.name, server: server.name }, value);
      }
    }
  };
}

/** A value of the flow sync, labelled with the VIP; absent when the VIP has no sync (or pick gives undefined). */
function perSync(pick: (sync: SyncSnapshot) => number | undefined) {
  return (s: StatusSnapshot, emit: Emit) => {
    const value = s.vip?.sync && pick(s.vip.sync);
    if (value !== undefined) emit({ address: s.vip!.address }, value);
  };
}

function oneHot<T extends string>(states: readonly T[], current: (server: ServerSnapshot) => T) {
  return (s: StatusSnapshot, emit: Emit) => {
    for (const listener of s.listeners) {
      for (const server of listener.servers) {
        const now = current(server);
        for (const state of states) emit({ proxy: listener.name, server: server.name, state }, state === now ? 1 : 0);
      }
    }
  };
}

const sum = (servers: ServerSnapshot[], pick: (s: ServerSnapshot) => number): number => servers.reduce((acc, s) => acc + pick(s), 0);

export const METRICS: readonly MetricDefinition[] = [
  // Frontend: the listening side of a listener.
  { name: 'haproxy_frontend_current_sessions', type: 'gauge', labels: ['proxy'], help: 'Number of current sessions on the frontend.', values: perListener((l) => l.activeConnections) },
  { name: 'haproxy_frontend_sessions_total', type: 'counter', labels: ['proxy'], help: 'Total number of sessions on the frontend.', values: perListener((l) => l.totalConnections) },
  { name: 'haproxy_frontend_bytes_in_total', type: 'counter', labels: ['proxy'], help: 'Total number of request bytes (client to server) since process started.', values: perListener((l) => l.bytesIn) },
  { name: 'haproxy_frontend_bytes_out_total', type: 'counter', labels: ['proxy'], help: 'Total number of response bytes (server to client) since process started.', values: perListener((l) => l.bytesOut) },

  // Backend: the servers of a listener taken together.
  {
    name: 'haproxy_backend_status', type: 'gauge', labels: ['proxy', 'state'], help: 'Current status of the service, per state label value (UP when at least one server is up and ready).',
    values: (s, emit) => {
      for (const l of s.listeners) {
        const up = l.servers.some(eligible);
        emit({ proxy: l.name, state: 'UP' }, up ? 1 : 0);
        emit({ proxy: l.name, state: 'DOWN' }, up ? 0 : 1);
      }
    },
  },
  { name: 'haproxy_backend_active_servers', type: 'gauge', labels: ['proxy'], help: 'Current number of active servers (up and ready).', values: perListener((l) => l.servers.filter(eligible).length) },
  { name: 'haproxy_backend_current_sessions', type: 'gauge', labels: ['proxy'], help: 'Number of current sessions on the backend.', values: perListener((l) => sum(l.servers, (v) => v.activeConnections)) },
  { name: 'haproxy_backend_sessions_total', type: 'counter', labels: ['proxy'], help: 'Total number of sessions on the backend.', values: perListener((l) => sum(l.servers, (v) => v.totalConnections)) },
  { name: 'haproxy_backend_connection_errors_total', type: 'counter', labels: ['proxy'], help: 'Total number of connection errors.', values: perListener((l) => sum(l.servers, (v) => v.connectFailures)) },
  { name: 'haproxy_backend_redispatch_warnings_total', type: 'counter', labels: ['proxy'], help: 'Total number of redispatch warnings.', values: perListener((l) => sum(l.servers, (v) => v.redispatches)) },

  // Server: one node of one listener.
  { name: 'haproxy_server_status', type: 'gauge', labels: ['proxy', 'server', 'state'], help: 'Current status of the server, per state label value (DOWN, UP, MAINT, DRAIN, NOLB).', values: oneHot(HAPROXY_SERVER_STATES, haproxyServerState) },
  { name: 'haproxy_server_current_sessions', type: 'gauge', labels: ['proxy', 'server'], help: 'Number of current sessions on the server.', values: perServer((v) => v.activeConnections) },
  { name: 'haproxy_server_sessions_total', type: 'counter', labels: ['proxy', 'server'], help: 'Total number of sessions on the server.', values: perServer((v) => v.totalConnections) },
  { name: 'haproxy_server_bytes_in_total', type: 'counter', labels: ['proxy', 'server'], help: 'Total number of request bytes (client to server) sent to the server.', values: perServer((v) => v.bytesIn) },
  { name: 'haproxy_server_bytes_out_total', type: 'counter', labels: ['proxy', 'server'], help: 'Total number of response bytes (server to client) received from the server.', values: perServer((v) => v.bytesOut) },
  { name: 'haproxy_server_connection_errors_total', type: 'counter', labels: ['proxy', 'server'], help: 'Total number of connection errors.', values: perServer((v) => v.connectFailures) },
  { name: 'haproxy_server_redispatch_warnings_total', type: 'counter', labels: ['proxy', 'server'], help: 'Total number of redispatch warnings.', values: perServer((v) => v.redispatches) },
  { name: 'haproxy_server_weight', type: 'gauge', labels: ['proxy', 'server'], help: 'Effective weight of the server (0 while drain or maint).', values: perServer((v) => (v.adminState === 'ready' ? v.weight : 0)) },
  { name: 'haproxy_server_uweight', type: 'gauge', labels: ['proxy', 'server'], help: 'Configured weight of the server.', values: perServer((v) => v.weight) },
  { name: 'haproxy_server_check_failures_total', type: 'counter', labels: ['proxy', 'server'], help: 'Total number of failed individual health checks.', values: perServer((v) => v.checksFailed) },
  { name: 'haproxy_server_check_up_down_total', type: 'counter', labels: ['proxy', 'server'], help: 'Total number of UP->DOWN transitions.', values: perServer((v) => v.downTransitions) },
  { name: 'haproxy_server_check_last_change_seconds', type: 'gauge', labels: ['proxy', 'server'], help: 'How long ago the last server state change happened, in seconds.', values: perServer((v, s) => seconds(Math.max(0, s.now - v.stateSince))) },
  { name: 'haproxy_server_check_duration_seconds', type: 'gauge', labels: ['proxy', 'server'], help: 'Duration of the latest health check, in seconds.', values: perServer((v) => (v.lastCheck ? seconds(v.lastCheck.latencyMs) : undefined)) },
  { name: 'haproxy_server_downtime_seconds_total', type: 'counter', labels: ['proxy', 'server'], help: 'Total downtime, in seconds.', values: perServer((v) => (v.downtimeMs === undefined ? undefined : seconds(v.downtimeMs))) },

  // Ours: what HAProxy has no name for.
  { name: 'cluster_endpoint_build_info', type: 'gauge', labels: ['version'], help: 'Always 1; the version of cluster-endpoint serving.', values: (s, emit) => emit({ version: s.version }, 1) },
  { name: 'cluster_endpoint_info', type: 'gauge', labels: ['cluster', 'endpoint'], help: 'Always 1; the cluster and endpoint this serve answers for (the rendered rules and dashboard select by it).', values: (s, emit) => emit({ cluster: s.spec.cluster, endpoint: s.spec.endpoint }, 1) },
  { name: 'cluster_endpoint_frontend_no_server_total', type: 'counter', labels: ['proxy'], help: 'Client connections closed because no server could take them.', values: perListener((l) => l.failedConnections) },
  { name: 'cluster_endpoint_server_state', type: 'gauge', labels: ['proxy', 'server', 'state'], help: 'Health state of the server set by checks, per state label value (checking, up, down).', values: oneHot(SERVER_STATES, (v) => v.state) },
  { name: 'cluster_endpoint_server_admin_state', type: 'gauge', labels: ['proxy', 'server', 'state'], help: 'Admin state of the server set by the operator, per state label value (ready, drain, maint).', values: oneHot(ADMIN_STATES, (v) => v.adminState) },
  { name: 'cluster_endpoint_server_first_byte_timeouts_total', type: 'counter', labels: ['proxy', 'server'], help: 'Connections the server took and did not answer within balancer.firstByteTimeout (replayed to another server).', values: perServer((v) => v.firstByteTimeouts) },
  { name: 'cluster_endpoint_server_ejected', type: 'gauge', labels: ['proxy', 'server'], help: '1 while passive health keeps new connections away from the server (it did not answer in time), else 0.', values: perServer((v, s) => ((v.ejectedUntil ?? 0) > s.now ? 1 : 0)) },
  { name: 'cluster_endpoint_server_check_success', type: 'gauge', labels: ['proxy', 'server'], help: '1 when the latest health check succeeded, 0 when it failed (absent before the first check).', values: perServer((v) => (v.lastCheck ? (v.lastCheck.ok ? 1 : 0) : undefined)) },
  { name: 'cluster_endpoint_config_last_reload_successful', type: 'gauge', labels: [], help: '1 when the last reload succeeded (or none was tried), 0 when it failed and the previous config still serves.', values: (s, emit) => emit({}, s.lastReload && !s.lastReload.ok ? 0 : 1) },
  { name: 'cluster_endpoint_config_last_reload_success_timestamp_seconds', type: 'gauge', labels: [], help: 'When the config now serving was loaded, in seconds since the epoch.', values: (s, emit) => emit({}, seconds(s.spec.loadedAt)) },
  { name: 'cluster_endpoint_config_last_reload_attempt_timestamp_seconds', type: 'gauge', labels: [], help: 'When the last reload was tried, in seconds since the epoch (absent before the first reload).', values: (s, emit) => { if (s.lastReload) emit({}, seconds(s.lastReload.at)); } },
  {
    name: 'cluster_endpoint_config_reloads_total', type: 'counter', labels: ['result'], help: 'Reload attempts since start, per result label value (success, failure).',
    values: (s, emit) => {
      if (!s.reloads) return;
      emit({ result: 'success' }, s.reloads.ok);
      emit({ result: 'failure' }, s.reloads.failed);
    },
  },
  {
    name: 'cluster_endpoint_resource_exhausted_total', type: 'counter', labels: ['code'], help: 'Connects, checks and accepts that failed because this process ran out of descriptors or buffers, per errno code (EMFILE, ENFILE, ENOBUFS, ENOMEM); never counted against a server.',
    values: (s, emit) => { for (const [code, count] of Object.entries(s.resources?.exhausted ?? {})) emit({ code }, count); },
  },
  {
    name: 'cluster_endpoint_vip_role', type: 'gauge', labels: ['address', 'role'], help: 'VRRP role of this peer for the VIP, per role label value (init, master, backup, fault).',
    values: (s, emit) => {
      if (!s.vip) return;
      for (const role of VIP_ROLES) emit({ address: s.vip.address, role }, role === s.vip.role ? 1 : 0);
    },
  },
  { name: 'cluster_endpoint_vip_transitions_total', type: 'counter', labels: ['address'], help: 'VIP role transitions of this peer since start.', values: (s, emit) => { if (s.vip) emit({ address: s.vip.address }, s.vip.transitionsTotal ?? s.vip.transitions.length); } },
  {
    name: 'cluster_endpoint_vip_adverts_dropped_total', type: 'counter', labels: ['address', 'reason'], help: 'VIP advertisements this peer dropped, by reason (auth: wrong key; replay; source; unknown-peer; router-id; malformed).',
    values: (s, emit) => { for (const [reason, count] of Object.entries(s.vip?.advertsDropped ?? {})) emit({ address: s.vip!.address, reason }, count); },
  },
  { name: 'cluster_endpoint_sync_running', type: 'gauge', labels: ['address'], help: 'Flow sync (vip.sync.flows): 1 while conntrackd runs.', values: perSync((y) => (y.running ? 1 : 0)) },
  { name: 'cluster_endpoint_sync_peer_reachable', type: 'gauge', labels: ['address'], help: 'Flow sync: 1 when a peer\'s conntrackd was heard within the last 3 s.', values: perSync((y) => (y.peerReachable ? 1 : 0)) },
  {
    name: 'cluster_endpoint_sync_flows', type: 'gauge', labels: ['address', 'cache'], help: 'Flow sync: flows this host tracks and sends (cache local) and flows received from peers (cache peers).',
    values: (s, emit) => {
      if (!s.vip?.sync) return;
      emit({ address: s.vip.address, cache: 'local' }, s.vip.sync.flowsLocal);
      emit({ address: s.vip.address, cache: 'peers' }, s.vip.sync.flowsFromPeers);
    },
  },
  { name: 'cluster_endpoint_sync_commits_total', type: 'counter', labels: ['address'], help: 'Flow sync: takeovers that committed the peers\' flows into the kernel.', values: perSync((y) => y.commits) },
  { name: 'cluster_endpoint_sync_last_commit_timestamp_seconds', type: 'gauge', labels: ['address'], help: 'Flow sync: when the last commit happened (absent before the first).', values: perSync((y) => (y.lastCommit ? seconds(y.lastCommit.at) : undefined)) },
  { name: 'cluster_endpoint_sync_messages_lost_total', type: 'counter', labels: ['address'], help: 'Flow sync: messages from peers that conntrackd counted as lost.', values: perSync((y) => y.messagesLost) },
  { name: 'cluster_endpoint_vip_priority', type: 'gauge', labels: ['address'], help: 'Configured VRRP priority of this peer.', values: (s, emit) => { if (s.vip) emit({ address: s.vip.address }, s.vip.priority); } },
  {
    name: 'cluster_endpoint_bgp_session_up', type: 'gauge', labels: ['peer', 'address'], help: 'BGP: 1 while the session with this router is established.',
    values: (s, emit) => { for (const p of s.bgp?.peers ?? []) emit({ peer: p.name, address: p.address }, p.state === 'established' ? 1 : 0); },
  },
  {
    name: 'cluster_endpoint_bgp_route_announced', type: 'gauge', labels: ['peer', 'prefix'], help: 'BGP: 1 while the endpoint\'s route is exported to this router (0 while withdrawn: unhealthy, stopping, or no session).',
    values: (s, emit) => { for (const p of s.bgp?.peers ?? []) emit({ peer: p.name, prefix: p.prefix ?? s.bgp!.prefix }, p.routeAnnounced ? 1 : 0); },
  },
  {
    name: 'cluster_endpoint_bgp_session_drops_total', type: 'counter', labels: ['peer', 'address'], help: 'BGP: times the established session with this router was lost since start.',
    values: (s, emit) => { for (const p of s.bgp?.peers ?? []) emit({ peer: p.name, address: p.address }, p.sessionDrops); },
  },
  { name: 'cluster_endpoint_vip_effective_priority', type: 'gauge', labels: ['address'], help: 'Priority this peer advertises now (lowered while unhealthy).', values: (s, emit) => { if (s.vip) emit({ address: s.vip.address }, s.vip.effectivePriority); } },
  { name: 'cluster_endpoint_discovery_up', type: 'gauge', labels: ['source'], help: 'Discovery: 1 while serve lists and watches the cluster\'s API servers, 0 while it cannot (the last known members are kept).', values: (s, emit) => { if (s.discovery) emit({ source: s.discovery.source }, s.discovery.state === 'synced' ? 1 : 0); } },
  { name: 'cluster_endpoint_discovery_nodes', type: 'gauge', labels: ['source'], help: 'Discovery: control-plane nodes the cluster lists, as last known.', values: (s, emit) => { if (s.discovery) emit({ source: s.discovery.source }, s.discovery.nodes.length); } },
  { name: 'cluster_endpoint_discovery_errors_total', type: 'counter', labels: ['source'], help: 'Discovery: lists and watches that failed since start.', values: (s, emit) => { if (s.discovery) emit({ source: s.discovery.source }, s.discovery.errors); } },
  { name: 'cluster_endpoint_discovery_last_sync_timestamp_seconds', type: 'gauge', labels: ['source'], help: 'Discovery: when the cluster\'s list was last confirmed (a list, a watch event or bookmark); absent before the first.', values: (s, emit) => { if (s.discovery?.lastSyncAt !== undefined) emit({ source: s.discovery.source }, seconds(s.discovery.lastSyncAt)); } },
];

export interface AdminMetrics {
  /** prom-client's registry: the process metrics (none with processMetrics: false). */
  readonly registry: Registry;
  readonly contentType: string;
  /** Prometheus text for one snapshot: METRICS, then the process metrics. */
  scrape(snapshot: StatusSnapshot): Promise<string>;
  /** METRICS for one snapshot as pieces (one per metric), for formatting in slices; `process()` follows them. */
  pieces(snapshot: StatusSnapshot): Iterable<string>;
  /** The process metrics' text ('' with processMetrics: false). */
  process(): Promise<string>;
}

/** A private registry (never prom-client's global one) for the process metrics; METRICS are written by metricPieces. */
export function createAdminMetrics(options: { processMetrics?: boolean } = {}): AdminMetrics {
  const registry = new Registry();
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry });
  return {
    registry,
    contentType: registry.contentType,
    async scrape(snapshot) {
      return [...metricPieces(snapshot)].join('') + (await this.process());
    },
    pieces: metricPieces,
    async process() {
      return options.processMetrics === false ? '' : registry.metrics();
    },
  };
}

/** The text exposition format (version 0.0.4) of every metric in METRICS for one snapshot, a piece per metric. */
function* metricPieces(snapshot: StatusSnapshot): Generator<string> {
  for (const [index, definition] of METRICS.entries()) {
    const lines: string[] = [`# HELP ${definition.name} ${escapeHelp(definition.help)}`, `# TYPE ${definition.name} ${definition.type}`];
    const prefix = `${definition.name}{`;
    const counter = definition.type === 'counter';
    definition.values(snapshot, (labels, value) => {
      let text = '';
      for (const name of definition.labels) {
        const v = labels[name];
        if (v === undefined) continue;
        text += `${text === '' ? '' : ','}${name}="${escapeLabel(v)}"`;
      }
      lines.push(`${text === '' ? definition.name : `${prefix}${text}}`} ${formatValue(counter ? Math.max(0, value) : value)}`);
    });
    yield `${index === 0 ? '' : '\n\n'}${lines.join('\n')}`;
  }
  yield '\n\n';
}

const LABEL_SPECIAL = /[\\"\n]/;

/** Label values escape backslash, double quote and newline. */
function escapeLabel(value: string): string {
  return LABEL_SPECIAL.test(value) ? value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : value;
}

/** HELP text escapes backslash and newline. */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}
