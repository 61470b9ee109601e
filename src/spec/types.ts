// The normalized spec every consumer reads: defaults applied, durations in milliseconds,
// listener health checks merged, servers resolved from target groups.
import type { ListenerRole } from './listener-role.js';

export type HealthCheckType = 'tcp' | 'tls' | 'https';
export type BalanceAlgorithm = 'roundrobin' | 'leastconn' | 'source';
export type TargetGroup = 'controlPlane' | 'workers';

export interface Node {
  name: string;
  address: string;
  weight: number;
  /** Per-listener port overrides (listener name → port); servers[].port already applies them. */
  ports?: Record<string, number>;
}

export interface HealthCheck {
  type: HealthCheckType;
  intervalMs: number;
  fastIntervalMs: number;
  timeoutMs: number;
  healthyThreshold: number;
  unhealthyThreshold: number;
  /** https only. */
  path: string;
  /** https only. */
  expectStatuses: number[];
  clientCertificate?: { certFile: string; keyFile: string };
  caFile?: string;
}

/** One target node of one listener: a server in HAProxy's words. */
export interface ServerTarget {
  name: string;
  address: string;
  port: number;
  weight: number;
}

export interface Listener {
  name: string;
  /** What it carries, decided once from name, targetPort and targets (src/spec/listener-role.ts). */
  role: ListenerRole;
  port: number;
  targetPort: number;
  targets: TargetGroup;
  balance: BalanceAlgorithm;
  healthCheck: HealthCheck;
  replay: boolean;
  servers: ServerTarget[];
}

export type BalancerMode = 'proxy' | 'kernel';

export interface BalancerSettings {
  /** Who carries connections: serve itself (proxy) or the kernel (nftables NAT + conntrack). */
  mode: BalancerMode;
  /** kernel mode: DNAT only (servers see the client) instead of DNAT + SNAT. Always false in proxy mode. */
  preserveClientIp: boolean;
  bind: string;
  admin: { host: string; port: number };
  adminToken?: string;
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  retries: number;
  replayBufferSize: number;
  /** No first byte from a server this long after it got the client's bytes: replay elsewhere, eject it. 0 = off. */
  firstByteTimeoutMs: number;
  onMarkedDown: 'close' | 'keep';
  whenAllDown: 'fail-open' | 'reject';
  maxConnections: number;
  watch: boolean;
}

export interface Peer {
  name: string;
  address: string;
  priority: number;
}

export interface Vip {
  address: string;
  family: 4 | 6;
  prefixLength: number;
  interface: string;
  virtualRouterId: number;
  advertIntervalMs: number;
  preempt: boolean;
  authKey?: string;
  unicast: boolean;
  peers: Peer[];
  /** Flow-state sync between the peers; present only in balancer.mode kernel. */
  sync?: FlowSync;
}

export interface FlowSync {
  /** conntrackd keeps flow state in step between the peers. */
  flows: boolean;
  /** Every peer picks the same server for a flow, and picks up flows it has no state for. */
  consistentHash: boolean;
  port: number;
  interface: string;
}

export interface BgpPeer {
  name: string;
  address: string;
  asn: number;
  port: number;
}

export interface Bgp {
  localAsn: number;
  /** 'auto' or an IPv4 address. */
  routerId: string;
  peers: BgpPeer[];
  bfd: boolean;
  bfdIntervalMs: number;
  bfdMultiplier: number;
  /** Whole seconds in ms; keepalive is a third of it. */
  holdTimeMs: number;
  withdrawDelayMs: number;
  runDirectory: string;
}

export interface AwsSettings {
  internal: boolean;
  deletionProtection: boolean;
  crossZone: boolean;
  preserveClientIp: boolean;
  allowedAdminCidrs: string[];
  vpcId?: string;
  subnetIds: string[];
  region?: string;
}

export interface TalosSettings {
  configStyle: 'legacy' | 'documents';
  interface: string;
  deviceSelector?: { hardwareAddr?: string; driver?: string; busPath?: string };
  gateway?: string;
  prefixLength: number;
  nameservers: string[];
  certSANs: string[];
}

export interface DnsSettings {
  name: string;
  ttl: number;
}

export interface Spec {
  /** File the spec was read from ("<inline>" when parsed from text). */
  source: string;
  cluster: { name: string; environment: string };
  endpoint: string;
  controlPlane: Node[];
  workers: Node[];
  listeners: Listener[];
  healthCheck: HealthCheck;
  deregistrationDelayMs: number;
  balancer: BalancerSettings;
  vip?: Vip;
  bgp?: Bgp;
  /** Present when the spec has an aws section (render aws). */
  aws?: AwsSettings;
  talos: TalosSettings;
  dns?: DnsSettings;
}
