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
  /** This host's interface on the VIP segment when it differs from vip.interface (read through src/spec/hosts.ts). */
  interface?: string;
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
  /** UDP port of serve's advertisements when not the default (src/vip/election/packet.ts DEFAULT_VIP_PORT). */
  port?: number;
}

export interface FlowSync {
  /** conntrackd keeps flow state in step between the peers. */
  flows: boolean;
  /** Every peer picks the same server for a flow, and picks up flows it has no state for. */
  consistentHash: boolean;
  port: number;
  /** vip.sync.interface; in a host's view (src/spec/hosts.ts) the host's VIP interface when not written. */
  interface: string;
  /** vip.sync.interface was written (else it follows each host's VIP interface). */
  interfaceWritten?: boolean;
}

export interface BgpPeer {
  name: string;
  /** May carry a zone for a link-local address: fe80::1%eth0. */
  address: string;
  asn: number;
  port: number;
  /** A file holding the TCP MD5 password (read by serve at start). */
  passwordFile?: string;
  /** eBGP multihop: the TTL; absent = directly connected. */
  multihop?: number;
  sourceAddress?: string;
  bfd: boolean;
  bfdIntervalMs: number;
  bfdMultiplier: number;
}

/** One LB host's own settings (bgp.hosts[]); peers are its own, on top of bgp.peers. */
export interface BgpHost {
  name: string;
  routerId?: string;
  peers: BgpPeer[];
}

export interface Bgp {
  localAsn: number;
  /** 'auto' or an IPv4 address. */
  routerId: string;
  /** The routers every host peers with (in a host's view: these and the host's own). */
  peers: BgpPeer[];
  /** Per-host settings; empty when every host runs the same. */
  hosts: BgpHost[];
  /** The host routes announced: [endpoint], or an IPv4 and an IPv6 address (dual stack). */
  addresses: string[];
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
  /** The addresses and the VIP go on VLAN `vlan` of `interface` (a link named `<interface>.<vlan>`). */
  vlan?: number;
  /** `interface` is a bond of these links. */
  bond?: { links: string[]; mode: BondMode };
}

export type BondMode = 'balance-rr' | 'active-backup' | 'balance-xor' | 'broadcast' | '802.3ad' | 'balance-tlb' | 'balance-alb';

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
  /** serve runs on the control-plane nodes as a static pod (render talos, render kubeadm). */
  staticPod?: StaticPodSettings;
  /** Control-plane nodes found in the cluster (serve), besides controlPlane. */
  discovery?: DiscoverySettings;
}

export interface DiscoverySettings {
  /** The cluster's `kubernetes` EndpointSlices; no kubeconfig: the pod's service account. */
  kubernetes?: { kubeconfig?: string };
}

export interface StaticPodSettings {
  image: string;
}
