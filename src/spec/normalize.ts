import { isIP } from 'node:net';
import { splitHostPort } from './address.js';
import {
  DEFAULT_BALANCER, DEFAULT_BGP, DEFAULT_DEREGISTRATION_DELAY_MS, DEFAULT_DNS_TTL, DEFAULT_FAST_INTERVAL_MS,
  DEFAULT_HEALTH_CHECK, DEFAULT_LISTENERS, DEFAULT_SYNC_PORT, DEFAULT_VIP,
} from './defaults.js';
import { parseDuration } from './duration.js';
import { listenerRole } from './listener-role.js';
import type { RawHealthCheck, RawSpec } from './schema.js';
import type { HealthCheck, Listener, Node, Spec } from './types.js';

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
      peers: (vipRaw.peers ?? []).map((p) => ({ ...p })),
      ...((balancerRaw.mode ?? DEFAULT_BALANCER.mode) === 'kernel' ? {
        sync: {
          flows: vipRaw.sync?.flows ?? true,
          consistentHash: vipRaw.sync?.consistentHash ?? true,
          port: vipRaw.sync?.port ?? DEFAULT_SYNC_PORT,
          interface: vipRaw.sync?.interface ?? vipRaw.interface ?? DEFAULT_VIP.interface,
        },
      } : {}),
    },
    bgp: raw.bgp && {
      localAsn: raw.bgp.localAsn,
      routerId: raw.bgp.routerId ?? DEFAULT_BGP.routerId,
      peers: raw.bgp.peers.map((p) => ({ name: p.name, address: p.address, asn: p.asn, port: p.port ?? DEFAULT_BGP.port })),
      bfd: raw.bgp.bfd ?? DEFAULT_BGP.bfd,
      bfdIntervalMs: ms(raw.bgp.bfdInterval, DEFAULT_BGP.bfdIntervalMs),
      bfdMultiplier: raw.bgp.bfdMultiplier ?? DEFAULT_BGP.bfdMultiplier,
      holdTimeMs: ms(raw.bgp.holdTime, DEFAULT_BGP.holdTimeMs),
      withdrawDelayMs: ms(raw.bgp.withdrawDelay, DEFAULT_BGP.withdrawDelayMs),
      runDirectory: raw.bgp.runDirectory ?? DEFAULT_BGP.runDirectory,
    },
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
    },
    dns: raw.dns && { name: raw.dns.name, ttl: raw.dns.ttl ?? DEFAULT_DNS_TTL },
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
