// One snapshot of the running balancer. The status page, /api/status and /metrics all format this
// object, so the three never disagree (HAProxy stats.c does the same).
import type { AdminState, CheckResult, ServerState } from '../health/types.js';

export interface ServerSnapshot {
  name: string;
  address: string;
  port: number;
  state: ServerState;
  adminState: AdminState;
  /** Epoch ms when `state` last changed. */
  stateSince: number;
  /** Why `state` last changed ("connect ECONNREFUSED, 2/2 failures"). */
  stateReason: string;
  weight: number;
  activeConnections: number;
  totalConnections: number;
  /** Connect attempts to this server that failed (retried elsewhere when possible). */
  connectFailures: number;
  /** Connections moved to another server after this one failed (HAProxy redispatch). */
  redispatches: number;
  bytesIn: number;
  bytesOut: number;
  checksFailed: number;
  /** Up → down transitions. */
  downTransitions: number;
  /** Total time spent down, current down period included (HAProxy `downtime`); optional. */
  downtimeMs?: number;
  /** Connections this server took and did not answer within balancer.firstByteTimeout (replayed elsewhere); optional. */
  firstByteTimeouts?: number;
  /** Set while passive health keeps new connections away from the server: epoch ms when that ends. */
  ejectedUntil?: number;
  lastCheck?: CheckResult;
  /** Set while draining after a reload removed the server: epoch ms when its connections are closed. */
  drainDeadline?: number;
  /** True when this server no longer exists in the spec and only drains. */
  removed?: boolean;
}

export interface ListenerSnapshot {
  name: string;
  bind: string;
  port: number;
  targetPort: number;
  balance: string;
  checkType: string;
  activeConnections: number;
  totalConnections: number;
  /** Client connections that got no server at all. */
  failedConnections: number;
  /** Of those, connections that failed because this process was out of descriptors or buffers (not the servers' fault). */
  localErrors?: number;
  bytesIn: number;
  bytesOut: number;
  servers: ServerSnapshot[];
}

export interface VipTransition {
  at: number;
  from: VipRole;
  to: VipRole;
  reason: string;
}

export type VipRole = 'init' | 'master' | 'backup' | 'fault';

export interface VipSnapshot {
  address: string;
  prefixLength: number;
  interface: string;
  self: string;
  role: VipRole;
  /** Name of the peer currently believed to hold the VIP, if known. */
  holder?: string;
  priority: number;
  effectivePriority: number;
  transitions: VipTransition[];
  /** Transitions since start when `transitions` keeps only the latest few; optional. */
  transitionsTotal?: number;
  /** balancer.mode kernel with vip.sync.flows: this host's flow-state sync. */
  sync?: SyncSnapshot;
  /** Advertisements dropped since start, by reason (auth = wrong key, replay, source, unknown-peer, router-id, malformed). */
  advertsDropped?: Record<string, number>;
}

/** Flow-state sync of this host with its peers (conntrackd). */
export interface SyncSnapshot {
  engine: 'conntrackd';
  /** primary: this host holds the VIP and sends its flows; backup: it receives the holder's. */
  role: 'primary' | 'backup';
  running: boolean;
  /** A message from a peer arrived within the last 3 s (conntrackd sends one every second). */
  peerReachable: boolean;
  /** Flows this host tracks and sends. */
  flowsLocal: number;
  /** Flows received from peers, committed to the kernel on takeover. */
  flowsFromPeers: number;
  messagesSent: number;
  messagesReceived: number;
  messagesLost: number;
  /** Takeovers (commits of the peers' flows) since start. */
  commits: number;
  /** Times conntrackd was restarted after it exited. */
  restarts: number;
  lastCommit?: { at: number; flows: number; ms: number; ok: boolean };
}

export interface BgpPeerSnapshot {
  name: string;
  address: string;
  asn: number;
  /** Dual stack: the host route this session carries (the one of its family). */
  prefix?: string;
  /** The BGP session's state as BIRD reports it, lower-case: idle, connect, active, opensent, openconfirm, established, down. */
  state: string;
  /** Epoch ms when serve saw `state` change. */
  stateSince: number;
  /** The speaker's last error for this session ("Bad peer AS: 65001", "Socket: Connection refused"). */
  lastError?: string;
  /** The endpoint's route is exported on this session now. */
  routeAnnounced: boolean;
  /** BFD session state (up, down, init, admindown) when bgp.bfd is on. */
  bfd?: string;
  /** Established → anything else since start. */
  sessionDrops: number;
}

export interface BgpSnapshot {
  /** The announced host route, e.g. 10.96.0.10/32 (the first of prefixes for a dual-stack endpoint). */
  prefix: string;
  /** Dual stack: every announced host route, e.g. [10.96.0.10/32, fd00:96::10/128]. */
  prefixes?: string[];
  localAsn: number;
  routerId?: string;
  /** The BIRD that serve runs: starting, running, restarting (after it exited), stopped. */
  speaker: 'starting' | 'running' | 'restarting' | 'stopped';
  speakerRestarts: number;
  /** This host's balancer can serve (it announces only then). */
  healthy: boolean;
  /** serve asked the speaker to announce the route (it is exported on every established session). */
  announced: boolean;
  /** Announce/withdraw transitions since start. */
  transitions: number;
  peers: BgpPeerSnapshot[];
}

/** Members found in the cluster (discovery.kubernetes). */
export interface DiscoverySnapshot {
  source: 'kubernetes';
  /** starting: no list yet (the spec's controlPlane serves); synced: listing and watching; failing: the API cannot be reached, the last known list is kept. */
  state: 'starting' | 'synced' | 'failing';
  /** Epoch ms when `state` last changed. */
  stateSince: number;
  /** Epoch ms of the last successful list or watch event. */
  lastSyncAt?: number;
  /** Why the last attempt failed. */
  lastError?: string;
  /** The API server address discovery talks to now, or talked to last. */
  server?: string;
  resourceVersion?: string;
  /** The control-plane nodes the cluster lists (the members of the control-plane listeners). */
  nodes: Array<{ name: string; address: string }>;
  /** Lists since start (the first one, and one after each expired resourceVersion or lost watch). */
  lists: number;
  /** Failed lists and watches since start. */
  errors: number;
}

export interface ReloadRecord {
  at: number;
  ok: boolean;
  message: string;
  problems?: string[];
  /** The watcher held a change that removes most servers: a signal (SIGHUP) applies it. */
  held?: boolean;
  /** Nothing was applied because the file is the one already serving (not counted as a reload). */
  unchanged?: boolean;
}

export interface DataPlaneSnapshot {
  mode: 'proxy' | 'kernel';
  /** "proxy, handles engine", "kernel, nftables table inet cluster_endpoint_prod". */
  description: string;
  /** kernel: servers see the client's address (DNAT only) or the balancer's (DNAT + SNAT). */
  preserveClientIp?: boolean;
}

/** This process's own resources: running out of them is never blamed on a server. */
export interface ResourcesSnapshot {
  /** RLIMIT_NOFILE (soft, already raised to the hard limit by Node at start). */
  descriptorLimit?: number;
  /** Descriptors open at the last count (every 5 s, every second near the limit). */
  descriptorsInUse?: number;
  /** Times a connect, check or accept failed for want of resources, by errno code (EMFILE, ENFILE, ENOBUFS, ENOMEM). */
  exhausted: Record<string, number>;
}

export interface StatusSnapshot {
  version: string;
  pid: number;
  startedAt: number;
  now: number;
  spec: { source: string; cluster: string; endpoint: string; loadedAt: number };
  /** The last reload attempt; when it failed, the old config is still the one serving. */
  lastReload?: ReloadRecord;
  /** Reload attempts since start by outcome; optional. */
  reloads?: { ok: number; failed: number };
  /** How flows are carried: by serve itself (proxy) or by the kernel; optional for older snapshots. */
  dataPlane?: DataPlaneSnapshot;
  listeners: ListenerSnapshot[];
  resources?: ResourcesSnapshot;
  vip?: VipSnapshot;
  bgp?: BgpSnapshot;
  discovery?: DiscoverySnapshot;
}
