// Maps the spec onto what an AWS Network Load Balancer can express, or refuses every field it cannot, each by
// name (src/render/fields.ts lists them). No value is rounded or clamped: an NLB that checks every 10s when the
// spec says 2s would be a lie.
import { isIP } from 'node:net';
import type { AwsSettings, HealthCheck, Listener, Spec } from '../../spec/types.js';
import { firstPortOverride } from '../node-ports.js';
import { checkPath, Refusals } from '../refusals.js';

/** Provider / ELB API ranges (aws_lb_target_group, NLB). */
export const NLB_LIMITS = {
  intervalSeconds: [5, 300],
  timeoutSeconds: [2, 120],
  threshold: [2, 10],
  deregistrationDelaySeconds: [0, 3600],
  /** A TCP listener's tcp.idle_timeout.seconds (the NLB's own default is 350). */
  idleTimeoutSeconds: [60, 6000],
  matcherStatus: [200, 599],
  nameLength: 32,
  /** Inbound (and outbound) rules per security group, AWS's default quota; each CIDR of a rule counts as one. */
  securityGroupRules: 60,
} as const;

/** The longest name suffix we render; what is left of 32 characters is the environment's. */
export const LONGEST_SUFFIX = '-talos-wk-apid-tg';
export const MAX_ENVIRONMENT_LENGTH = NLB_LIMITS.nameLength - LONGEST_SUFFIX.length;

/** The guide's layout: which listener role becomes which Terraform resource. */
export const NLB_LAYOUT = {
  kubernetes: { resource: 'kubernetes_api', suffix: '-talos-api-tg', where: 'module' },
  talos: { resource: 'talos_api', suffix: '-talos-apid-tg', where: 'module' },
  'talos-workers': { resource: 'talos_workers_api', suffix: LONGEST_SUFFIX, where: 'root' },
} as const;
export type NlbRole = keyof typeof NLB_LAYOUT;

export interface TargetGroupPlan {
  role: NlbRole;
  resource: string;
  suffix: string;
  listenerName: string;
  port: number;
  targetPort: number;
  targets: Listener['targets'];
  protocol: 'TCP' | 'HTTPS';
  path?: string;
  matcher?: string;
  /** balance source: the NLB sends a client's flows to one target (stickiness source_ip). */
  sticky: boolean;
}

export interface AwsPlan {
  environment: string;
  vpcId: string;
  subnetIds: string[];
  internal: boolean;
  deletionProtection: boolean;
  crossZone: boolean;
  preserveClientIp: boolean;
  allowedAdminCidrs: string[];
  /** aws.region: the plan fails when the provider is configured for another region. */
  region?: string;
  intervalSeconds: number;
  timeoutSeconds: number;
  healthyThreshold: number;
  unhealthyThreshold: number;
  deregistrationDelaySeconds: number;
  idleTimeoutSeconds: number;
  unhealthyConnectionTermination: boolean;
  targetGroups: TargetGroupPlan[];
  controlPlaneTargets: Array<{ name: string; address: string }>;
  workerTargets: Array<{ name: string; address: string }>;
  kubernetesPort: number;
  talosPort: number;
}

type Timing = { interval: number; timeout: number; healthyThreshold: number; unhealthyThreshold: number };

function wholeSeconds(refusals: Refusals<'aws'>, ms: number, at: string, [min, max]: readonly [number, number], what = 'an NLB'): number {
  const seconds = ms / 1000;
  if (ms % 1000 !== 0) refusals.addAt(at, `${ms}ms is not a whole number of seconds`, `${what} takes whole seconds from ${min}s to ${max}s; set ${at} to e.g. "${Math.min(max, Math.max(min, Math.round(seconds)))}s"`);
  else if (seconds < min || seconds > max) refusals.addAt(at, `${seconds}s is outside the NLB range ${min}s–${max}s`, `set ${at} to a value from ${min}s to ${max}s`);
  return seconds;
}

function threshold(refusals: Refusals<'aws'>, value: number, at: string): number {
  const [min, max] = NLB_LIMITS.threshold;
  if (value < min || value > max) refusals.addAt(at, `${value} is outside the NLB range ${min}–${max}`, `set ${at} to a value from ${min} to ${max}`);
  return value;
}

function timing(refusals: Refusals<'aws'>, check: HealthCheck, path: string): Timing {
  return {
    interval: wholeSeconds(refusals, check.intervalMs, `${path}.interval`, NLB_LIMITS.intervalSeconds),
    timeout: wholeSeconds(refusals, check.timeoutMs, `${path}.timeout`, NLB_LIMITS.timeoutSeconds),
    healthyThreshold: threshold(refusals, check.healthyThreshold, `${path}.healthyThreshold`),
    unhealthyThreshold: threshold(refusals, check.unhealthyThreshold, `${path}.unhealthyThreshold`),
  };
}

function ipv4Targets(refusals: Refusals<'aws'>, nodes: Spec['controlPlane'], group: 'controlPlane' | 'workers') {
  nodes.forEach((node, index) => {
    if (isIP(node.address) !== 4) refusals.add(`${group}[].address`, `"${node.address}" is not an IPv4 address`, 'the NLB target groups register nodes by IPv4 address (target_type "ip"); use the node\'s private IPv4 address', `${group}[${index}].address`);
  });
  return nodes.map((node) => ({ name: node.name, address: node.address }));
}

/**
 * Weights: an NLB spreads flows evenly over healthy targets and has no per-target weight. Equal weights say just
 * that; different ones, or 0 (no new connections), cannot be written.
 */
function evenWeights(refusals: Refusals<'aws'>, nodes: Spec['controlPlane'], group: 'controlPlane' | 'workers'): void {
  const first = nodes.find((node) => node.weight !== 0);
  nodes.forEach((node, index) => {
    const at = `${group}[${index}].weight`;
    if (node.weight === 0) {
      refusals.add(`${group}[].weight`, `${node.name} has weight 0 (no new connections), which an NLB cannot express`, `remove ${node.name} from the spec to deregister it (the NLB drains it for deregistrationDelay), or remove its weight`, at);
    } else if (first && node.weight !== first.weight) {
      refusals.add(`${group}[].weight`, `${node.name} has weight ${node.weight} and ${first.name} ${first.weight}: an NLB spreads flows evenly and has no per-target weight`, `give every node of ${group} the same weight (or none) for render aws`, at);
    }
  });
}

export function planAws(spec: Spec): AwsPlan {
  const refusals = new Refusals('aws');
  const aws: AwsSettings = spec.aws ?? { internal: true, deletionProtection: false, crossZone: true, preserveClientIp: false, allowedAdminCidrs: [], subnetIds: [] };
  if (!spec.aws) refusals.add('aws', 'the spec has no aws section: render aws needs the VPC and subnets of the NLB', 'add aws: { vpcId: vpc-..., subnetIds: [subnet-..., ...] } (docs/render/aws.md)');
  const environment = spec.cluster.environment;
  if (environment.length > MAX_ENVIRONMENT_LENGTH) {
    refusals.add('cluster.environment', `"${environment}" is ${environment.length} characters; AWS limits load balancer and target group names to ${NLB_LIMITS.nameLength}, and "${environment}${LONGEST_SUFFIX}" is ${environment.length + LONGEST_SUFFIX.length}`, `set cluster.environment to at most ${MAX_ENVIRONMENT_LENGTH} characters (it defaults to cluster.name)`);
  }
  if (spec.aws && !aws.vpcId) refusals.add('aws.vpcId', 'is required for render aws', 'add aws.vpcId: the VPC id (vpc-...) or a Terraform expression such as module.network.vpc_id');
  if (spec.aws && aws.subnetIds.length === 0) refusals.add('aws.subnetIds', 'is required for render aws', 'add aws.subnetIds: the subnet ids (subnet-...) the NLB is placed in');

  aws.allowedAdminCidrs.forEach((cidr, index) => {
    if (!isCidr(cidr)) refusals.add('aws.allowedAdminCidrs', `"${cidr}" is not a CIDR block`, 'write an address with a prefix length, e.g. 203.0.113.7/32', `aws.allowedAdminCidrs[${index}]`);
  });

  const override = firstPortOverride(spec);
  if (override) {
    const group = override.listener.targets;
    refusals.add(`${group}[].ports`, `${override.node} serves ${override.listener.name} on ${override.port}, but the rendered target group registers every node on the listener's targetPort ${override.listener.targetPort}`, `remove ${override.path} for render aws and serve ${override.listener.name} on ${override.listener.targetPort} on every node (per-node ports are for several nodes on one address, as in the demo)`, override.path);
  }

  if (spec.balancer.whenAllDown === 'reject') {
    refusals.add('balancer.whenAllDown', 'reject cannot be written: when no target is healthy an NLB sends traffic to every target (it fails open)', 'remove balancer.whenAllDown (fail-open is the default) for render aws');
  }

  const targetGroups: TargetGroupPlan[] = [];
  let shared: Timing | undefined;
  let sharedFrom = '';
  spec.listeners.forEach((listener, index) => {
    const role = listener.role;
    if (role === 'other') {
      refusals.add('listeners[].name', `"${listener.name}" has no place in the guide's NLB layout (it carries neither the Kubernetes nor the Talos API)`, `render aws knows the listeners ${Object.keys(NLB_LAYOUT).join(', ')} (by name, or by targetPort 6443 / 50000 and targets); rename or remove this one`, `listeners[${index}].name`);
      return;
    }
    const twin = targetGroups.find((g) => g.role === role);
    if (twin) {
      refusals.add('listeners[].name', `"${listener.name}" carries the ${role} role that listener "${twin.listenerName}" already has`, 'the guide\'s NLB layout has one target group per role; remove one of the two listeners', `listeners[${index}].name`);
      return;
    }
    if (listener.balance === 'leastconn') {
      refusals.add('listeners[].balance', 'leastconn cannot be written: an NLB hashes each flow to a target and has no least-connections algorithm', `set listeners[${index}].balance (or balancer.balance, its default) to roundrobin (the NLB's even spread) or source (stickiness source_ip) for render aws`, `listeners[${index}].balance`);
    }
    const path = checkPath(spec, index);
    const check = listener.healthCheck;
    const own = timing(refusals, check, path);
    if (!shared) { shared = own; sharedFrom = path; } else {
      for (const key of Object.keys(own) as Array<keyof Timing>) {
        if (own[key] !== shared[key]) refusals.addAt(`${path}.${key}`, `differs from ${sharedFrom}.${key} (${own[key]} vs ${shared[key]})`, 'the NLB module shares one interval/timeout/threshold set (health_check_* variables); give the listeners the same timing');
      }
    }
    if (check.type === 'tls') refusals.addAt(`${path}.type`, 'an NLB has no TLS-handshake health check', 'use type tcp (connect) or https (GET path) for AWS');
    let matcher: string | undefined;
    if (check.type === 'https') {
      if (check.clientCertificate) refusals.addAt(`${path}.clientCertificate.certFile`, 'an NLB health check cannot present a client certificate', 'remove clientCertificate (kube-apiserver serves /readyz to anonymous clients by default) or use type tcp');
      const [min, max] = NLB_LIMITS.matcherStatus;
      for (const status of check.expectStatuses) {
        if (status < min || status > max) refusals.addAt(`${path}.expectStatuses`, `${status} is outside the NLB matcher range ${min}–${max}`, `use statuses from ${min} to ${max}`);
      }
      matcher = check.expectStatuses.join(',');
    }
    const meta = NLB_LAYOUT[role];
    targetGroups.push({
      role, resource: meta.resource, suffix: meta.suffix, listenerName: listener.name,
      port: listener.port, targetPort: listener.targetPort, targets: listener.targets,
      protocol: check.type === 'https' ? 'HTTPS' : 'TCP',
      ...(check.type === 'https' ? { path: check.path, matcher } : {}),
      sticky: listener.balance === 'source',
    });
  });
  const kubernetes = targetGroups.find((t) => t.role === 'kubernetes');
  const talos = targetGroups.find((t) => t.role === 'talos');
  if (!kubernetes || !talos) refusals.add('listeners[].name', 'render aws needs the kubernetes and talos listeners', 'add { name: kubernetes, port: 6443, targetPort: 6443, targets: controlPlane } and { name: talos, port: 50000, targetPort: 50000, targets: controlPlane }, or remove listeners to get the defaults', 'listeners[0].name');
  const hasWorkerListener = targetGroups.some((t) => t.role === 'talos-workers');
  const controlPlaneTargets = ipv4Targets(refusals, spec.controlPlane, 'controlPlane');
  evenWeights(refusals, spec.controlPlane, 'controlPlane');
  const workerTargets = hasWorkerListener ? ipv4Targets(refusals, spec.workers, 'workers') : [];
  if (hasWorkerListener) evenWeights(refusals, spec.workers, 'workers');
  const deregistrationDelaySeconds = wholeSeconds(refusals, spec.deregistrationDelayMs, 'deregistrationDelay', NLB_LIMITS.deregistrationDelaySeconds);
  const idleTimeoutSeconds = wholeSeconds(refusals, spec.balancer.idleTimeoutMs, 'balancer.idleTimeout', NLB_LIMITS.idleTimeoutSeconds, 'an NLB listener\'s TCP idle timeout');
  refusals.throwIfAny();

  const timingValues = shared as Timing;
  return {
    environment,
    vpcId: aws.vpcId as string,
    subnetIds: aws.subnetIds,
    internal: aws.internal,
    deletionProtection: aws.deletionProtection,
    crossZone: aws.crossZone,
    preserveClientIp: aws.preserveClientIp,
    allowedAdminCidrs: aws.allowedAdminCidrs,
    ...(aws.region ? { region: aws.region } : {}),
    intervalSeconds: timingValues.interval,
    timeoutSeconds: timingValues.timeout,
    healthyThreshold: timingValues.healthyThreshold,
    unhealthyThreshold: timingValues.unhealthyThreshold,
    deregistrationDelaySeconds,
    idleTimeoutSeconds,
    unhealthyConnectionTermination: spec.balancer.onMarkedDown === 'close',
    targetGroups,
    controlPlaneTargets,
    workerTargets,
    kubernetesPort: (kubernetes as TargetGroupPlan).port,
    talosPort: (talos as TargetGroupPlan).port,
  };
}

/** A spec value that is a Terraform expression (module.network.vpc_id) rather than an id. */
export function isExpression(value: string): boolean {
  return /^(module|var|local|data)\./.test(value);
}

function isCidr(text: string): boolean {
  const [address, prefix, extra] = text.split('/');
  const family = isIP(address ?? '');
  if (family === 0 || extra !== undefined || !/^[0-9]{1,3}$/.test(prefix ?? '')) return false;
  return Number(prefix) <= (family === 4 ? 32 : 128);
}
