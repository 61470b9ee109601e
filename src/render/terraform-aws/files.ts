// The Terraform text. Each function returns one file's body (without the header).
import { alignAttributes, hclList, hclString } from './hcl.js';
import { MAX_ENVIRONMENT_LENGTH, NLB_LIMITS, isExpression, type AwsPlan, type TargetGroupPlan } from './plan.js';

export const MODULE_DIR = 'modules/aws/loadbalancer';
export const ROOT_DIR = 'cluster/aws';
export const TFVARS_PATH = 'cluster/envs/aws.tfvars';
/** The module source as seen from ROOT_DIR. */
const MODULE_SOURCE = '../../modules/aws/loadbalancer';

const hcl = (lines: string[]) => `${alignAttributes(lines.join('\n')).replace(/\n{3,}/g, '\n\n').trim()}\n`;

export function versionsTf(): string {
  return hcl([
    'terraform {',
    // validation blocks need 1.3; security_groups on an NLB and target_health_state need provider 5.x,
    // a listener's tcp_idle_timeout_seconds 5.73.
    '  required_version = ">= 1.3"',
    '',
    '  required_providers {',
    '    aws = {',
    '      source  = "hashicorp/aws"',
    '      version = ">= 5.73"',
    '    }',
    '  }',
    '}',
  ]);
}

function range(name: string, [min, max]: readonly [number, number], unit: string): string[] {
  return [
    '  validation {',
    `    condition     = var.${name} >= ${min} && var.${name} <= ${max} && floor(var.${name}) == var.${name}`,
    `    error_message = "${name} must be a whole number from ${min} to ${max}${unit} (AWS NLB limit)."`,
    '  }',
  ];
}

function variable(name: string, type: string, description: string, extra: string[] = [], fallback?: string): string[] {
  return [
    `variable "${name}" {`,
    `  description = ${hclString(description)}`,
    `  type = ${type}`,
    ...(fallback !== undefined ? [`  default = ${fallback}`] : []),
    ...(extra.length > 0 ? ['', ...extra] : []),
    '}',
    '',
  ];
}

/** The module's inputs. Their defaults are the spec's values, so the module alone says what the spec says. */
export function variablesTf(plan: AwsPlan): string {
  return hcl([
    ...variable('environment', 'string', `Prefix of every resource name. At most ${MAX_ENVIRONMENT_LENGTH} characters: AWS allows ${NLB_LIMITS.nameLength}, and the longest name is "<environment>-talos-wk-apid-tg".`, [
      '  validation {',
      `    condition     = can(regex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?$", var.environment)) && length(var.environment) <= ${MAX_ENVIRONMENT_LENGTH}`,
      `    error_message = "environment must be 1 to ${MAX_ENVIRONMENT_LENGTH} lower-case letters, digits or '-' (load balancer and target group names are limited to ${NLB_LIMITS.nameLength} characters)."`,
      '  }',
    ]),
    ...variable('vpc_id', 'string', 'VPC of the NLB, its security group and the target groups.'),
    ...variable('subnet_ids', 'list(string)', 'Subnets the NLB is placed in (one per availability zone).', [
      '  validation {',
      '    condition     = length(var.subnet_ids) > 0',
      '    error_message = "subnet_ids needs at least one subnet."',
      '  }',
    ]),
    ...variable('internal', 'bool', 'true: internal NLB (reachable from the VPC, VPN or bastion); false: internet-facing.', [], String(plan.internal)),
    ...variable('enable_deletion_protection', 'bool', 'Refuse to delete the NLB until this is turned off.', [], String(plan.deletionProtection)),
    ...variable('enable_cross_zone_load_balancing', 'bool', 'Spread each zone\'s traffic over the targets of every zone.', [], String(plan.crossZone)),
    ...variable('allowed_admin_cidrs', 'list(string)', 'CIDR blocks (administrators, CI) allowed to reach every listener through the NLB security group.', [
      '  validation {',
      '    condition     = alltrue([for cidr in var.allowed_admin_cidrs : can(cidrhost(cidr, 0))])',
      '    error_message = "allowed_admin_cidrs must hold CIDR blocks such as 203.0.113.7/32."',
      '  }',
    ], hclList(plan.allowedAdminCidrs)),
    ...variable('node_cidrs', 'list(string)', 'CIDR blocks that hold the cluster nodes (the VPC\'s, or the nodes\' subnets): they reach the API through the NLB (kubelets, hairpin) and the NLB reaches them for traffic and health checks. Blocks, not one /32 per node: AWS counts every CIDR of a rule against the security group\'s rule quota.', [
      '  validation {',
      '    condition     = alltrue([for cidr in var.node_cidrs : can(cidrhost(cidr, 0))])',
      '    error_message = "node_cidrs must hold CIDR blocks such as 10.0.1.10/32."',
      '  }',
    ]),
    ...variable('health_check_interval', 'number', 'NLB health check interval in seconds.', range('health_check_interval', NLB_LIMITS.intervalSeconds, ' seconds'), String(plan.intervalSeconds)),
    ...variable('health_check_timeout', 'number', 'NLB health check timeout in seconds.', range('health_check_timeout', NLB_LIMITS.timeoutSeconds, ' seconds'), String(plan.timeoutSeconds)),
    ...variable('healthy_threshold', 'number', 'Consecutive successful checks before marking target healthy.', range('healthy_threshold', NLB_LIMITS.threshold, ''), String(plan.healthyThreshold)),
    ...variable('unhealthy_threshold', 'number', 'Consecutive failed checks before marking target unhealthy.', range('unhealthy_threshold', NLB_LIMITS.threshold, ''), String(plan.unhealthyThreshold)),
    ...variable('deregistration_delay', 'number', 'Seconds a deregistered or draining target keeps its established connections.', range('deregistration_delay', NLB_LIMITS.deregistrationDelaySeconds, ' seconds'), String(plan.deregistrationDelaySeconds)),
    ...variable('tcp_idle_timeout', 'number', 'Seconds a connection may stay idle before the NLB closes it (the spec\'s balancer.idleTimeout; the NLB\'s own default, 350, cuts quiet kubectl logs -f and exec).', range('tcp_idle_timeout', NLB_LIMITS.idleTimeoutSeconds, ' seconds'), String(plan.idleTimeoutSeconds)),
    ...variable('preserve_client_ip', 'bool', 'Targets see the client\'s address. With true, a node that reaches its own API through the NLB can time out (hairpin); see docs/render/aws.md.', [], String(plan.preserveClientIp)),
    ...variable('unhealthy_connection_termination', 'bool', 'Close established connections to a target when it is marked unhealthy (the spec\'s balancer.onMarkedDown).', [], String(plan.unhealthyConnectionTermination)),
  ]);
}

function healthCheck(group: TargetGroupPlan, prefix: string): string[] {
  return [
    // Explicit protocol: the provider's default health check is HTTP, which a TCP service never passes.
    '  health_check {',
    '    enabled = true',
    `    protocol = "${group.protocol}"`,
    '    port = "traffic-port"',
    ...(group.protocol === 'HTTPS' ? [`    path = ${hclString(group.path ?? '/readyz')}`, `    matcher = ${hclString(group.matcher ?? '200')}`] : []),
    `    interval = ${prefix}health_check_interval`,
    `    timeout = ${prefix}health_check_timeout`,
    `    healthy_threshold = ${prefix}healthy_threshold`,
    `    unhealthy_threshold = ${prefix}unhealthy_threshold`,
    '  }',
  ];
}

/** A target group and its listener; `prefix` is where the settings come from ("var."). */
function targetGroupAndListener(group: TargetGroupPlan, prefix: string, loadBalancerArn: string): string[] {
  return [
    `# ${group.listenerName}: listener ${group.port} -> ${group.targets} port ${group.targetPort}`,
    `resource "aws_lb_target_group" "${group.resource}" {`,
    `  name = "\${${prefix}environment}${group.suffix}"`,
    `  port = ${group.targetPort}`,
    '  protocol = "TCP"',
    '  target_type = "ip"',
    `  vpc_id = ${prefix}vpc_id`,
    `  deregistration_delay = ${prefix}deregistration_delay`,
    `  preserve_client_ip = ${prefix}preserve_client_ip`,
    '  # Close what is left after the deregistration delay, as the built-in balancer does.',
    '  connection_termination = true',
    '',
    ...healthCheck(group, prefix),
    '',
    '  target_health_state {',
    `    enable_unhealthy_connection_termination = ${prefix}unhealthy_connection_termination`,
    '  }',
    ...(group.sticky ? [
      '',
      `  # ${group.listenerName}: balance source. A client's flows go to one target while it is healthy.`,
      '  stickiness {',
      '    enabled = true',
      '    type = "source_ip"',
      '  }',
    ] : []),
    '}',
    '',
    `resource "aws_lb_listener" "${group.resource}" {`,
    `  load_balancer_arn = ${loadBalancerArn}`,
    `  port = ${group.port}`,
    '  protocol = "TCP"',
    `  tcp_idle_timeout_seconds = ${prefix}tcp_idle_timeout`,
    '',
    '  default_action {',
    '    type = "forward"',
    `    target_group_arn = aws_lb_target_group.${group.resource}.arn`,
    '  }',
    '}',
    '',
  ];
}

/** Ports as the fewest from–to ranges (50000 and 50001 are one rule): each range is one rule per CIDR. */
export function portRanges(ports: readonly number[]): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  for (const port of [...new Set(ports)].sort((a, b) => a - b)) {
    const last = ranges[ranges.length - 1];
    if (last && port === last[1] + 1) last[1] = port;
    else ranges.push([port, port]);
  }
  return ranges;
}

const rangeText = ([from, to]: [number, number]) => (from === to ? `${from}` : `${from}-${to}`);

function rule(kind: 'ingress' | 'egress', [from, to]: [number, number], description: string, cidrs: string): string[] {
  return [`  ${kind} {`, `    description = "${description}"`, `    from_port = ${from}`, `    to_port = ${to}`, '    protocol = "tcp"', `    cidr_blocks = ${cidrs}`, '  }', ''];
}

export function mainTf(plan: AwsPlan): string {
  const moduleGroups = plan.targetGroups.filter((g) => g.role !== 'talos-workers');
  const ingress = portRanges(plan.targetGroups.map((g) => g.port));
  const egress = portRanges(plan.targetGroups.map((g) => g.targetPort));
  const quota = NLB_LIMITS.securityGroupRules;
  return hcl([
    '# The security group is created together with the NLB: adding security_groups to an existing NLB',
    '# replaces it (new DNS name, every kubeconfig and talosconfig breaks).',
    '# One rule per port range; AWS counts each CIDR of a rule against the quota, so nodes come in as',
    '# node_cidrs (blocks such as the VPC\'s), never one /32 per node.',
    'resource "aws_security_group" "nlb" {',
    '  name = "${var.environment}-talos-api-nlb"',
    '  description = "Talos and Kubernetes API load balancer"',
    '  vpc_id = var.vpc_id',
    '',
    ...ingress.flatMap((r) => rule('ingress', r, `listener ${rangeText(r)} from admins and nodes`, 'concat(var.allowed_admin_cidrs, var.node_cidrs)')),
    '  # Traffic and health checks from the NLB to the nodes.',
    ...egress.flatMap((r) => rule('egress', r, `targets on ${rangeText(r)}`, 'var.node_cidrs')),
    '  lifecycle {',
    '    precondition {',
    `      condition = ${ingress.length} * length(concat(var.allowed_admin_cidrs, var.node_cidrs)) <= ${quota} && ${egress.length} * length(var.node_cidrs) <= ${quota}`,
    `      error_message = "The NLB security group would exceed AWS's default ${quota} inbound or outbound rules (every CIDR of a rule counts, once per port range: ${ingress.length} inbound, ${egress.length} outbound). Use fewer, wider CIDR blocks in allowed_admin_cidrs and node_cidrs, or raise the quota."`,
    '    }',
    '  }',
    '}',
    '',
    'resource "aws_lb" "kubernetes_api" {',
    '  name = "${var.environment}-talos-api-nlb"',
    '  internal = var.internal',
    '  load_balancer_type = "network"',
    '  subnets = var.subnet_ids',
    '  security_groups = [aws_security_group.nlb.id]',
    '  enable_deletion_protection = var.enable_deletion_protection',
    '  enable_cross_zone_load_balancing = var.enable_cross_zone_load_balancing',
    '}',
    '',
    ...moduleGroups.flatMap((g) => targetGroupAndListener(g, 'var.', 'aws_lb.kubernetes_api.arn')),
  ]);
}

export function outputsTf(plan: AwsPlan): string {
  const output = (name: string, description: string, value: string) => [`output "${name}" {`, `  description = ${hclString(description)}`, `  value = ${value}`, '}', ''];
  return hcl([
    ...output('load_balancer_dns_name', 'NLB DNS name for external access.', 'aws_lb.kubernetes_api.dns_name'),
    ...output('load_balancer_zone_id', 'Route 53 zone of the NLB\'s DNS name (for alias records).', 'aws_lb.kubernetes_api.zone_id'),
    ...output('load_balancer_arn', 'NLB ARN (used for additional listeners in the root module).', 'aws_lb.kubernetes_api.arn'),
    ...output('kubernetes_api_endpoint', 'https://<nlb-dns>:<kubernetes port>', `"https://\${aws_lb.kubernetes_api.dns_name}:${plan.kubernetesPort}"`),
    ...output('talos_api_endpoint', '<nlb-dns>:<talos port>', `"\${aws_lb.kubernetes_api.dns_name}:${plan.talosPort}"`),
    ...output('kubernetes_api_target_group_arn', 'For target group attachments.', 'aws_lb_target_group.kubernetes_api.arn'),
    ...output('talos_api_target_group_arn', 'For target group attachments.', 'aws_lb_target_group.talos_api.arn'),
    ...output('security_group_id', 'Security group of the NLB; allow it in the nodes\' security groups on the target ports.', 'aws_security_group.nlb.id'),
  ]);
}

/** The root variables the module call, the worker target group and the attachments read. */
export function rootVariablesTf(plan: AwsPlan): string {
  const v = (name: string, type: string, description: string) => [`variable "${name}" {`, `  description = ${hclString(description)}`, `  type = ${type}`, '}', ''];
  return hcl([
    ...v('environment', 'string', 'Prefix of every resource name (cluster.environment).'),
    ...(isExpression(plan.vpcId) ? [] : v('vpc_id', 'string', 'VPC id (aws.vpcId).')),
    ...(plan.subnetIds.some(isExpression) ? [] : v('subnet_ids', 'list(string)', 'NLB subnets (aws.subnetIds).')),
    ...v('nlb_internal', 'bool', 'Internal (true) or internet-facing (false) NLB (aws.internal).'),
    ...v('enable_deletion_protection', 'bool', 'aws.deletionProtection.'),
    ...v('enable_cross_zone_load_balancing', 'bool', 'aws.crossZone.'),
    ...v('allowed_admin_cidrs', 'list(string)', 'aws.allowedAdminCidrs.'),
    ...v('health_check_interval', 'number', 'Seconds (healthCheck.interval).'),
    ...v('health_check_timeout', 'number', 'Seconds (healthCheck.timeout).'),
    ...v('healthy_threshold', 'number', 'healthCheck.healthyThreshold.'),
    ...v('unhealthy_threshold', 'number', 'healthCheck.unhealthyThreshold.'),
    ...v('deregistration_delay', 'number', 'Seconds (deregistrationDelay).'),
    ...v('tcp_idle_timeout', 'number', 'Seconds (balancer.idleTimeout).'),
    ...v('preserve_client_ip', 'bool', 'aws.preserveClientIp.'),
    ...v('unhealthy_connection_termination', 'bool', 'balancer.onMarkedDown == close.'),
    ...v('control_plane_targets', 'map(string)', 'Control-plane node name => private IPv4 address (controlPlane).'),
    ...v('worker_targets', 'map(string)', 'Worker node name => private IPv4 address (workers).'),
  ]);
}

/** The nodes (name (address)) that no CIDR block of the VPC holds; `self` is the aws_vpc data source. */
export const OUTSIDE_VPC = '[for name, address in local.node_addresses : "${name} (${address})" if !anytrue([for block in self.cidr_block_associations : cidrhost("${address}/${split("/", block.cidr_block)[1]}", 0) == cidrhost(block.cidr_block, 0)])]';

export function rootTf(plan: AwsPlan): string {
  const vpc = isExpression(plan.vpcId) ? plan.vpcId : 'var.vpc_id';
  const subnets = plan.subnetIds.some(isExpression) ? `[${plan.subnetIds.map((s) => (isExpression(s) ? s : hclString(s))).join(', ')}]` : 'var.subnet_ids';
  const workers = plan.targetGroups.find((g) => g.role === 'talos-workers');
  const attach = (name: string, forEach: string, targetGroupArn: string, port: number) => [
    `resource "aws_lb_target_group_attachment" "${name}" {`,
    `  for_each = ${forEach}`,
    `  target_group_arn = ${targetGroupArn}`,
    '  target_id = each.value',
    `  port = ${port}`,
    '}',
    '',
  ];
  const kubernetes = plan.targetGroups.find((g) => g.role === 'kubernetes') as TargetGroupPlan;
  const talos = plan.targetGroups.find((g) => g.role === 'talos') as TargetGroupPlan;
  return hcl([
    '# Every node reaches the API through the NLB and the NLB reaches every node: the security group admits the',
    '# VPC\'s CIDR blocks (AWS counts each CIDR of a rule against its quota, so not one /32 per node).',
    'data "aws_vpc" "nodes" {',
    `  id = ${vpc}`,
    '',
    '  lifecycle {',
    '    # A node outside those blocks would never pass a health check: say so at plan time. cidrhost(address/prefix, 0)',
    '    # is the network that holds address; it equals the block\'s own when the block holds the address.',
    '    postcondition {',
    `      condition = length(${OUTSIDE_VPC}) == 0`,
    `      error_message = "Outside the VPC's CIDR blocks, which the NLB security group admits: \${join(", ", ${OUTSIDE_VPC})}. Pass the nodes' subnets as node_cidrs to module.loadbalancer."`,
    '    }',
    '  }',
    '}',
    '',
    ...(plan.region ? [
      `# aws.region: the NLB belongs in ${plan.region}; a provider (or profile) set for another region fails the plan.`,
      'data "aws_region" "current" {',
      '  lifecycle {',
      '    postcondition {',
      `      condition = self.name == ${hclString(plan.region)}`,
      `      error_message = "The AWS provider is configured for \${self.name}; the spec's aws.region is ${plan.region}."`,
      '    }',
      '  }',
      '}',
      '',
    ] : []),
    'locals {',
    '  node_addresses = merge(var.control_plane_targets, var.worker_targets)',
    '  node_cidrs = [for block in data.aws_vpc.nodes.cidr_block_associations : block.cidr_block]',
    '}',
    '',
    'module "loadbalancer" {',
    `  source = "${MODULE_SOURCE}"`,
    '',
    '  environment = var.environment',
    `  vpc_id = ${vpc}`,
    `  subnet_ids = ${subnets}`,
    '  internal = var.nlb_internal',
    '  enable_deletion_protection = var.enable_deletion_protection',
    '  enable_cross_zone_load_balancing = var.enable_cross_zone_load_balancing',
    '  allowed_admin_cidrs = var.allowed_admin_cidrs',
    '  node_cidrs = local.node_cidrs',
    '  health_check_interval = var.health_check_interval',
    '  health_check_timeout = var.health_check_timeout',
    '  healthy_threshold = var.healthy_threshold',
    '  unhealthy_threshold = var.unhealthy_threshold',
    '  deregistration_delay = var.deregistration_delay',
    '  tcp_idle_timeout = var.tcp_idle_timeout',
    '  preserve_client_ip = var.preserve_client_ip',
    '  unhealthy_connection_termination = var.unhealthy_connection_termination',
    '}',
    '',
    ...(workers ? targetGroupAndListener(workers, 'var.', 'module.loadbalancer.load_balancer_arn').map((line) => line.replace('vpc_id = var.vpc_id', `vpc_id = ${vpc}`)) : []),
    '# Attachments live in the root module so nodes can be replaced without touching the NLB.',
    ...attach('cp_kubernetes_api', 'var.control_plane_targets', 'module.loadbalancer.kubernetes_api_target_group_arn', kubernetes.targetPort),
    ...attach('cp_talos_api', 'var.control_plane_targets', 'module.loadbalancer.talos_api_target_group_arn', talos.targetPort),
    // The guide attaches only control-plane nodes, which leaves the 50001 listener without targets.
    ...(workers ? attach('wk_talos_api', 'var.worker_targets', `aws_lb_target_group.${workers.resource}.arn`, workers.targetPort) : []),
    'output "nlb_dns_name" {',
    '  description = "NLB DNS name (talosctl and kubectl reach the cluster through it)."',
    '  value = module.loadbalancer.load_balancer_dns_name',
    '}',
    '',
    'output "kubernetes_api_endpoint" {',
    '  description = "https://<nlb-dns>:<kubernetes port>"',
    '  value = module.loadbalancer.kubernetes_api_endpoint',
    '}',
  ]);
}

export function tfvars(plan: AwsPlan): string {
  const map = (targets: AwsPlan['controlPlaneTargets']) => (targets.length === 0 ? ['{}'] : ['{', ...targets.map((t) => `  ${hclString(t.name)} = ${hclString(t.address)}`), '}']);
  const assign = (name: string, lines: string[]) => (lines.length === 1 ? [`${name} = ${lines[0]}`] : [`${name} = ${lines[0]}`, ...lines.slice(1)]);
  return hcl([
    `environment = ${hclString(plan.environment)}`,
    ...(isExpression(plan.vpcId) ? [] : [`vpc_id = ${hclString(plan.vpcId)}`]),
    ...(plan.subnetIds.some(isExpression) ? [] : [`subnet_ids = ${hclList(plan.subnetIds)}`]),
    `nlb_internal = ${plan.internal}`,
    `enable_deletion_protection = ${plan.deletionProtection}`,
    `enable_cross_zone_load_balancing = ${plan.crossZone}`,
    `allowed_admin_cidrs = ${hclList(plan.allowedAdminCidrs)}`,
    '',
    `health_check_interval = ${plan.intervalSeconds}`,
    `health_check_timeout = ${plan.timeoutSeconds}`,
    `healthy_threshold = ${plan.healthyThreshold}`,
    `unhealthy_threshold = ${plan.unhealthyThreshold}`,
    `deregistration_delay = ${plan.deregistrationDelaySeconds}`,
    `tcp_idle_timeout = ${plan.idleTimeoutSeconds}`,
    `preserve_client_ip = ${plan.preserveClientIp}`,
    `unhealthy_connection_termination = ${plan.unhealthyConnectionTermination}`,
    '',
    ...assign('control_plane_targets', map(plan.controlPlaneTargets)),
    '',
    ...assign('worker_targets', map(plan.workerTargets)),
  ]);
}
