// Maps the spec onto what an AWS Network Load Balancer can express, or fails with the field to change.
// No value is rounded or clamped: an NLB that checks every 10s when the spec says 2s would be a lie.
import { isIP } from 'node:net';
import { UserError } from '../../errors.js';
import type { HealthCheck, Listener, Spec } from '../../spec/types.js';
import { firstPortOverride } from '../node-ports.js';

/** Provider / ELB API ranges (aws_lb_target_group, NLB). */
export const NLB_LIMITS = {
  intervalSeconds: [5, 300],
  timeoutSeconds: [2, 120],
  threshold: [2, 10],
  deregistrationDelaySeconds: [0, 3600],
  matcherStatus: [200, 599],
  nameLength: 32,
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
  intervalSeconds: number;
  timeoutSeconds: number;
  healthyThreshold: number;
  unhealthyThreshold: number;
  deregistrationDelaySeconds: number;
  unhealthyConnectionTermination: boolean;
  targetGroups: TargetGroupPlan[];
  controlPlaneTargets: Array<{ name: string; address: string }>;
  workerTargets: Array<{ name: string; address: string }>;
  kubernetesPort: number;
  talosPort: number;
}

function fail(path: string, message: string, hint: string): never {
  throw new UserError('RENDER', `${path}: ${message}`, { hint });
}

/** Where a listener's health check came from, for error messages. */
function checkPath(spec: Spec, index: number): string {
  return spec.listeners[index].healthCheck === spec.healthCheck ? 'healthCheck' : `listeners[${index}].healthCheck`;
}

function wholeSeconds(ms: number, path: string, [min, max]: readonly [number, number]): number {
  if (ms % 1000 !== 0) fail(path, `${ms}ms is not a whole number of seconds`, `an NLB takes whole seconds from ${min}s to ${max}s; set ${path} to e.g. "${Math.min(max, Math.max(min, Math.round(ms / 1000)))}s"`);
  const seconds = ms / 1000;
  if (seconds < min || seconds > max) fail(path, `${seconds}s is outside the NLB range ${min}s–${max}s`, `set ${path} to a value from ${min}s to ${max}s`);
  return seconds;
}

function threshold(value: number, path: string): number {
  const [min, max] = NLB_LIMITS.threshold;
  if (value < min || value > max) fail(path, `${value} is outside the NLB range ${min}–${max}`, `set ${path} to a value from ${min} to ${max}`);
  return value;
}

function timing(check: HealthCheck, path: string) {
  return {
    intervalSeconds: wholeSeconds(check.intervalMs, `${path}.interval`, NLB_LIMITS.intervalSeconds),
    timeoutSeconds: wholeSeconds(check.timeoutMs, `${path}.timeout`, NLB_LIMITS.timeoutSeconds),
    healthyThreshold: threshold(check.healthyThreshold, `${path}.healthyThreshold`),
    unhealthyThreshold: threshold(check.unhealthyThreshold, `${path}.unhealthyThreshold`),
  };
}

function ipv4Targets(nodes: Spec['controlPlane'], group: string) {
  return nodes.map((node, index) => {
    if (isIP(node.address) !== 4) fail(`${group}[${index}].address`, `"${node.address}" is not an IPv4 address`, 'the NLB target groups register nodes by IPv4 address (target_type "ip"); use the node\'s private IPv4 address');
    return { name: node.name, address: node.address };
  });
}

export function planAws(spec: Spec): AwsPlan {
  const aws = spec.aws;
  if (!aws) fail('aws', 'the spec has no aws section: render aws needs the VPC and subnets of the NLB', 'add aws: { vpcId: vpc-..., subnetIds: [subnet-..., ...] } (docs/render/aws.md)');
  const environment = spec.cluster.environment;
  if (environment.length > MAX_ENVIRONMENT_LENGTH) {
    fail('cluster.environment', `"${environment}" is ${environment.length} characters; AWS limits load balancer and target group names to ${NLB_LIMITS.nameLength}, and "${environment}${LONGEST_SUFFIX}" is ${environment.length + LONGEST_SUFFIX.length}`, `set cluster.environment to at most ${MAX_ENVIRONMENT_LENGTH} characters (it defaults to cluster.name)`);
  }
  if (!aws.vpcId) fail('aws.vpcId', 'is required for render aws', 'add aws.vpcId: the VPC id (vpc-...) or a Terraform expression such as module.network.vpc_id');
  if (aws.subnetIds.length === 0) fail('aws.subnetIds', 'is required for render aws', 'add aws.subnetIds: the subnet ids (subnet-...) the NLB is placed in');

  aws.allowedAdminCidrs.forEach((cidr, index) => {
    if (!isCidr(cidr)) fail(`aws.allowedAdminCidrs[${index}]`, `"${cidr}" is not a CIDR block`, 'write an address with a prefix length, e.g. 203.0.113.7/32');
  });

  const override = firstPortOverride(spec);
  if (override) {
    fail(override.path, `${override.node} serves ${override.listener.name} on ${override.port}, but the rendered target group registers every node on the listener's targetPort ${override.listener.targetPort}`, `remove ${override.path} for render aws and serve ${override.listener.name} on ${override.listener.targetPort} on every node (per-node ports are for several nodes on one address, as in the demo)`);
  }

  const targetGroups: TargetGroupPlan[] = [];
  let shared: ReturnType<typeof timing> | undefined;
  let sharedFrom = '';
  spec.listeners.forEach((listener, index) => {
    const role = listener.role;
    if (role === 'other') {
      fail(`listeners[${index}].name`, `"${listener.name}" has no place in the guide's NLB layout (it carries neither the Kubernetes nor the Talos API)`, `render aws knows the listeners ${Object.keys(NLB_LAYOUT).join(', ')} (by name, or by targetPort 6443 / 50000 and targets); rename or remove this one`);
    }
    const twin = targetGroups.find((g) => g.role === role);
    if (twin) fail(`listeners[${index}]`, `"${listener.name}" carries the ${role} role that listener "${twin.listenerName}" already has`, 'the guide\'s NLB layout has one target group per role; remove one of the two listeners');
    const path = checkPath(spec, index);
    const check = listener.healthCheck;
    const own = timing(check, path);
    if (!shared) { shared = own; sharedFrom = path; } else {
      for (const key of Object.keys(own) as Array<keyof typeof own>) {
        if (own[key] !== shared[key]) fail(`${path}`, `health-check timing differs from ${sharedFrom} (${key} ${own[key]} vs ${shared[key]})`, 'the NLB module shares one interval/timeout/threshold set (health_check_* variables); give the listeners the same timing');
      }
    }
    if (check.type === 'tls') fail(`${path}.type`, 'an NLB has no TLS-handshake health check', 'use type tcp (connect) or https (GET path) for AWS');
    let matcher: string | undefined;
    if (check.type === 'https') {
      if (check.clientCertificate) fail(`${path}.clientCertificate`, 'an NLB health check cannot present a client certificate', 'remove clientCertificate (kube-apiserver serves /readyz to anonymous clients by default) or use type tcp');
      const [min, max] = NLB_LIMITS.matcherStatus;
      for (const status of check.expectStatuses) {
        if (status < min || status > max) fail(`${path}.expectStatuses`, `${status} is outside the NLB matcher range ${min}–${max}`, `use statuses from ${min} to ${max}`);
      }
      matcher = check.expectStatuses.join(',');
    }
    const meta = NLB_LAYOUT[role];
    targetGroups.push({
      role, resource: meta.resource, suffix: meta.suffix, listenerName: listener.name,
      port: listener.port, targetPort: listener.targetPort, targets: listener.targets,
      protocol: check.type === 'https' ? 'HTTPS' : 'TCP',
      ...(check.type === 'https' ? { path: check.path, matcher } : {}),
    });
  });
  const kubernetes = targetGroups.find((t) => t.role === 'kubernetes');
  const talos = targetGroups.find((t) => t.role === 'talos');
  if (!kubernetes || !talos) fail('listeners', 'render aws needs the kubernetes and talos listeners', 'add { name: kubernetes, port: 6443, targetPort: 6443, targets: controlPlane } and { name: talos, port: 50000, targetPort: 50000, targets: controlPlane }, or remove listeners to get the defaults');
  const hasWorkerListener = targetGroups.some((t) => t.role === 'talos-workers');
  const timingValues = shared as ReturnType<typeof timing>;
  return {
    environment,
    vpcId: aws.vpcId,
    subnetIds: aws.subnetIds,
    internal: aws.internal,
    deletionProtection: aws.deletionProtection,
    crossZone: aws.crossZone,
    preserveClientIp: aws.preserveClientIp,
    allowedAdminCidrs: aws.allowedAdminCidrs,
    ...timingValues,
    deregistrationDelaySeconds: wholeSeconds(spec.deregistrationDelayMs, 'deregistrationDelay', NLB_LIMITS.deregistrationDelaySeconds),
    unhealthyConnectionTermination: spec.balancer.onMarkedDown === 'close',
    targetGroups,
    controlPlaneTargets: ipv4Targets(spec.controlPlane, 'controlPlane'),
    workerTargets: hasWorkerListener ? ipv4Targets(spec.workers, 'workers') : [],
    kubernetesPort: kubernetes.port,
    talosPort: talos.port,
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
