import { isIP } from 'node:net';
import { splitHostPort } from './address.js';
import {
  DEFAULT_BALANCER, DEFAULT_BGP, DEFAULT_BOND_MODE, DEFAULT_DEREGISTRATION_DELAY_MS, DEFAULT_DNS_TTL, DEFAULT_FAST_INTERVAL_MS,
  DEFAULT_HEALTH_CHECK, DEFAULT_LISTENERS, DEFAULT_SYNC_PORT, DEFAULT_VIP,
} from './defaults.js';
import { parseDuration } from './duration.js';
import { listenerRole } from './listener-role.js';
import type { RawBgpPeer, RawHealthCheck, RawSpec } from './schema.js';
import type { Bgp, BgpPeer, HealthCheck, Listener, Node, Spec } from './types.js';

/** Applies defaults to a raw spec that passed the schema and the rules. Pure. */
export function normalize(raw: RawSpec, source: string): Spec {
  const healthCheck = mergeHealthCheck(raw.healthCheck ?? {}, undefined);
  const controlPlane = (raw.controlPlane ?? []).map(toNode);
  const workers = (raw.workers ?? []).map(toNode);
  const balancerRaw = raw.balancer ?? {};
  const defaultBalance = balancerRaw.balance ?? DEFAULT_BALANCER.balance;
  const replayDefault = balancerRaw.replay ?? DEFAULT_BALANCER.replay;
  const rawListeners = raw.listeners ?? DEFAULT_LISTENERS.filter((l) => l.targets !== 'workers' || workers.length > 0);
  const listeners: Listener[] = rawListeners.map((l) => {
    const nodes = l.targets === 'workers' ? workers : controlPlane;
    const own = 'healthCheck' in l ? l.healthCheck : undefined;
    return {
      name: l.name,
      role: listenerRole(l),
      port: l.port,
      targetPort: l.targetPort,
      targets: l.targets,
      balance: ('balance' in l && l.balance) || defaultBalance,
      healthCheck: own ? mergeHealthCheck(own, raw.healthCheck ?? {}) : healthCheck,
      replay: ('replay' in l && l.replay !== undefined) ? l.replay : replayDefault,
      servers: nodes.map((n) => ({ name: n.name, address: n.address, port: n.ports?.[l.name] ?? l.targetPort, weight: n.weight })),
    };
  });
  const admin = splitHostPort(balancerRaw.admin ?? DEFAULT_BALANCER.admin) ?? { host: '127.0.0.1', port: 8404 };
  const environment = raw.cluster.environment ?? raw.cluster.name;
  const vipRaw = raw.vip;
  const family = vipRaw && isIP(vipRaw.address) === 6 ? 6 : 4;
  return {
    source,
    cluster: { name: raw.cluster.name, environment },
    endpoint: raw.endpoint,
    controlPlane,
    workers,
    listeners,
    healthCheck,
    deregistrationDelayMs: ms(raw.deregistrationDelay, DEFAULT_DEREGISTRATION_DELAY_MS),
    balancer: {
      mode: balancerRaw.mode ?? DEFAULT_BALANCER.mode,
      preserveClientIp: balancerRaw.preserveClientIp ?? DEFAULT_BALANCER.preserveClientIp,
      bind: balancerRaw.bind ?? DEFAULT_BALANCER.bind,
      admin,
      adminToken: balancerRaw.adminToken ?? process.env.CLUSTER_ENDPOINT_ADMIN_TOKEN,
      connectTimeoutMs: ms(balancerRaw.connectTimeout, DEFAULT_BALANCER.connectTimeoutMs),
      idleTimeoutMs: ms(balancerRaw.idleTimeout, DEFAULT_BALANCER.idleTimeoutMs),
      retries: balancerRaw.retries ?? DEFAULT_BALANCER.retries,
      replayBufferSize: balancerRaw.replayBufferSize ?? DEFAULT_BALANCER.replayBufferSize,
      firstByteTimeoutMs: ms(balancerRaw.firstByteTimeout, DEFAULT_BALANCER.firstByteTimeoutMs),
      onMarkedDown: balancerRaw.onMarkedDown ?? DEFAULT_BALANCER.onMarkedDown,
      whenAllDown: balancerRaw.whenAllDown ?? DEFAULT_BALANCER.whenAllDown,
      maxConnections: balancerRaw.maxConnections ?? DEFAULT_BALANCER.maxConnections,
      watch: balancerRaw.watch ?? DEFAULT_BALANCER.watch,
    },
    vip: vipRaw && {
      address: vipRaw.address,
      family,
      prefixLength: vipRaw.prefixLength ?? (family === 6 ? 64 : 24),
      interface: vipRaw.interface ?? DEFAULT_VIP.interface,
      virtualRouterId: vipRaw.virtualRouterId ?? DEFAULT_VIP.virtualRouterId,
      advertIntervalMs: ms(vipRaw.advertInterval, DEFAULT_VIP.advertIntervalMs),
      preempt: vipRaw.preempt ?? DEFAULT_VIP.preempt,
      authKey: vipRaw.authKey ?? process.env.CLUSTER_ENDPOINT_VIP_KEY,
      unicast: vipRaw.unicast ?? DEFAULT_VIP.unicast,
      peers: (vipRaw.peers ?? []).map((p) => ({ name: p.name, address: p.address, priority: p.priority, ...(p.interface !== undefined ? { interface: p.interface } : {}) })),
      ...((balancerRaw.mode ?? DEFAULT_BALANCER.mode) === 'kernel' ? {
        sync: {
          flows: vipRaw.sync?.flows ?? true,
          consistentHash: vipRaw.sync?.consistentHash ?? true,
          port: vipRaw.sync?.port ?? DEFAULT_SYNC_PORT,
          interface: vipRaw.sync?.interface ?? vipRaw.interface ?? DEFAULT_VIP.interface,
          ...(vipRaw.sync?.interface !== undefined ? { interfaceWritten: true } : {}),
        },
      } : {}),
      ...(vipRaw.port !== undefined ? { port: vipRaw.port } : {}),
    },
    bgp: raw.bgp && normalizeBgp(raw.bgp, raw.endpoint),
    aws: raw.aws && {
      internal: raw.aws.internal ?? true,
      deletionProtection: raw.aws.deletionProtection ?? false,
      crossZone: raw.aws.crossZone ?? true,
      preserveClientIp: raw.aws.preserveClientIp ?? false,
      allowedAdminCidrs: raw.aws.allowedAdminCidrs ?? [],
      vpcId: raw.aws.vpcId,
      subnetIds: raw.aws.subnetIds ?? [],
      region: raw.aws.region,
    },
    talos: {
      configStyle: raw.talos?.configStyle ?? 'documents',
      interface: raw.talos?.interface ?? vipRaw?.interface ?? DEFAULT_VIP.interface,
      deviceSelector: raw.talos?.deviceSelector,
      gateway: raw.talos?.gateway,
      prefixLength: raw.talos?.prefixLength ?? vipRaw?.prefixLength ?? 24,
      nameservers: raw.talos?.nameservers ?? [],
      certSANs: raw.talos?.certSANs ?? [],
      ...(raw.talos?.vlan !== undefined ? { vlan: raw.talos.vlan } : {}),
      ...(raw.talos?.bond ? { bond: { links: [...raw.talos.bond.links], mode: raw.talos.bond.mode ?? DEFAULT_BOND_MODE } } : {}),
    },
    dns: raw.dns && { name: raw.dns.name, ttl: raw.dns.ttl ?? DEFAULT_DNS_TTL },
    ...(raw.staticPod ? { staticPod: { image: raw.staticPod.image } } : {}),
    ...(raw.discovery ? { discovery: { ...(raw.discovery.kubernetes ? { kubernetes: { ...raw.discovery.kubernetes } } : {}) } } : {}),
  };
}

function normalizeBgp(raw: NonNullable<RawSpec['bgp']>, endpoint: string): Bgp {
  const bfd = raw.bfd ?? DEFAULT_BGP.bfd;
  const bfdIntervalMs = ms(raw.bfdInterval, DEFAULT_BGP.bfdIntervalMs);
  const bfdMultiplier = raw.bfdMultiplier ?? DEFAULT_BGP.bfdMultiplier;
  // A peer's own BFD settings override the section's.
  const peer = (p: RawBgpPeer): BgpPeer => ({
    name: p.name, address: p.address, asn: p.asn, port: p.port ?? DEFAULT_BGP.port,
    ...(p.passwordFile !== undefined ? { passwordFile: p.passwordFile } : {}),
    ...(p.multihop !== undefined ? { multihop: p.multihop } : {}),
    ...(p.sourceAddress !== undefined ? { sourceAddress: p.sourceAddress } : {}),
    bfd: p.bfd ?? bfd,
    bfdIntervalMs: ms(p.bfdInterval, bfdIntervalMs),
    bfdMultiplier: p.bfdMultiplier ?? bfdMultiplier,
  });
  return {
    localAsn: raw.localAsn,
    routerId: raw.routerId ?? DEFAULT_BGP.routerId,
    peers: (raw.peers ?? []).map(peer),
    hosts: (raw.hosts ?? []).map((h) => ({ name: h.name, ...(h.routerId !== undefined ? { routerId: h.routerId } : {}), peers: (h.peers ?? []).map(peer) })),
    addresses: raw.addresses ? [...raw.addresses] : [endpoint],
    bfd,
    bfdIntervalMs,
    bfdMultiplier,
    holdTimeMs: ms(raw.holdTime, DEFAULT_BGP.holdTimeMs),
    withdrawDelayMs: ms(raw.withdrawDelay, DEFAULT_BGP.withdrawDelayMs),
    runDirectory: raw.runDirectory ?? DEFAULT_BGP.runDirectory,
  };
}

function toNode(n: { name: string; address: string; weight?: number; ports?: Record<string, number> }): Node {
  return { name: n.name, address: n.address, weight: n.weight ?? 1, ...(n.ports ? { ports: { ...n.ports } } : {}) };
}

function mergeHealthCheck(own: RawHealthCheck, inherited: RawHealthCheck | undefined): HealthCheck {
  const pick = <K extends keyof RawHealthCheck>(key: K) => own[key] ?? inherited?.[key];
  const intervalMs = ms(pick('interval'), DEFAULT_HEALTH_CHECK.intervalMs);
  const clientCertificate = pick('clientCertificate');
  const caFile = pick('caFile');
  return {
    type: pick('type') ?? DEFAULT_HEALTH_CHECK.type,
    intervalMs,
    fastIntervalMs: ms(pick('fastInterval'), Math.min(intervalMs, DEFAULT_FAST_INTERVAL_MS)),
    timeoutMs: ms(pick('timeout'), DEFAULT_HEALTH_CHECK.timeoutMs),
    healthyThreshold: pick('healthyThreshold') ?? DEFAULT_HEALTH_CHECK.healthyThreshold,
    unhealthyThreshold: pick('unhealthyThreshold') ?? DEFAULT_HEALTH_CHECK.unhealthyThreshold,
    path: pick('path') ?? DEFAULT_HEALTH_CHECK.path,
    expectStatuses: pick('expectStatuses') ?? [...DEFAULT_HEALTH_CHECK.expectStatuses],
    ...(clientCertificate ? { clientCertificate: { ...clientCertificate } } : {}),
    ...(caFile ? { caFile } : {}),
  };
}

function ms(value: string | undefined, fallback: number): number {
  return value === undefined ? fallback : parseDuration(value) ?? fallback;
}
