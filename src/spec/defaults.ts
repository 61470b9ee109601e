// The defaults. Health-check and deregistration values are the reference guide's; the rest are chosen
// for a production control plane (see docs/spec.md for why).

export const DEFAULT_HEALTH_CHECK = {
  type: 'tcp',
  intervalMs: 10_000,
  timeoutMs: 5000,
  healthyThreshold: 2,
  unhealthyThreshold: 2,
  path: '/readyz',
  expectStatuses: [200],
} as const;

/** Fast re-check while a state is changing: at most this, never more than the interval. */
export const DEFAULT_FAST_INTERVAL_MS = 2000;

export const DEFAULT_DEREGISTRATION_DELAY_MS = 30_000;

export const DEFAULT_BALANCER = {
  mode: 'proxy',
  // Translating the source too works in every topology; preserving it needs the servers' return route.
  preserveClientIp: false,
  bind: '0.0.0.0',
  admin: '127.0.0.1:8404',
  balance: 'roundrobin',
  connectTimeoutMs: 10_000,
  // kubectl logs -f, exec and watches sit idle for minutes; an AWS NLB's own default is 350s (render aws sets this).
  idleTimeoutMs: 3_600_000,
  retries: 2,
  replay: true,
  replayBufferSize: 65_536,
  // A TLS server answers a ClientHello in milliseconds; client-go gives up on the handshake after 10 s, so a
  // replay after 3 s (+ up to 1 s, the sweep) still lands in time.
  firstByteTimeoutMs: 3000,
  onMarkedDown: 'close',
  whenAllDown: 'fail-open',
  maxConnections: 20_000,
  watch: true,
} as const;

export const DEFAULT_LISTENERS = [
  { name: 'kubernetes', port: 6443, targetPort: 6443, targets: 'controlPlane' },
  { name: 'talos', port: 50000, targetPort: 50000, targets: 'controlPlane' },
  { name: 'talos-workers', port: 50001, targetPort: 50000, targets: 'workers' },
] as const;

export const DEFAULT_VIP = {
  interface: 'eth0',
  virtualRouterId: 51,
  advertIntervalMs: 1000,
  preempt: true,
  unicast: true,
} as const;

/** Works with any switch; 802.3ad (LACP) needs the switch ports configured for it. */
export const DEFAULT_BOND_MODE = 'active-backup';

/** conntrackd's own default port for its sync traffic. */
export const DEFAULT_SYNC_PORT = 3780;

export const DEFAULT_DNS_TTL = 30;

// BFD 100ms x 3 withdraws a silent host in ~0.3 s; BGP 3/9 s is the data-centre norm (the protocol's 90 s is not).
export const DEFAULT_BGP = {
  routerId: 'auto',
  port: 179,
  bfd: true,
  bfdIntervalMs: 100,
  bfdMultiplier: 3,
  holdTimeMs: 9000,
  withdrawDelayMs: 2000,
  runDirectory: '/run/cluster-endpoint/bgp',
} as const;
