// render dns: dns.name for whatever serves the endpoint. An NLB (aws section): a CNAME to the NLB's name, in
// Terraform next to the NLB, because that name exists only once the NLB does. A VIP: one record for it. Neither:
// round-robin records for the control-plane nodes. Node records next to a balancer would send clients around it.
import { isIP } from 'node:net';
import type { Spec } from '../../spec/types.js';
import { header } from '../header.js';
import { firstPortOverride } from '../node-ports.js';
import { Refusals } from '../refusals.js';
import { hclString } from '../terraform-aws/hcl.js';
import { ROOT_DIR } from '../terraform-aws/files.js';
import type { RenderContext, RenderedFile, Renderer } from '../types.js';

export const ZONE_FILE = 'records.zone';
/** Next to the root-module file of render aws, whose module "loadbalancer" it reads. */
export const ROUTE53_FILE = `${ROOT_DIR}/dns.tf`;

const absolute = (name: string) => (name.endsWith('.') ? name : `${name}.`);

export type DnsLayout = 'nlb' | 'vip' | 'nodes';

/** What dns.name points at: the NLB, the VIP, or the nodes themselves. */
export function dnsLayout(spec: Spec): DnsLayout {
  return spec.aws ? 'nlb' : spec.vip ? 'vip' : 'nodes';
}

export const dnsRenderer: Renderer = {
  target: 'dns',
  description: 'dns.name for the endpoint: a CNAME to the NLB (Terraform, Route 53), an A / AAAA record for the VIP, or round-robin records for the control-plane nodes',
  section: { name: 'dns', present: (spec) => spec.dns !== undefined },
  render(spec, context): RenderedFile[] {
    const refusals = new Refusals('dns');
    const dns = spec.dns;
    if (!dns) refusals.add('dns', 'render dns needs the record name', 'add dns: { name: api.example.com, ttl: 30 } (ttl in seconds, default 30)');
    refusals.throwIfAny();
    const { name, ttl } = dns as NonNullable<Spec['dns']>;
    if (absolute(spec.endpoint).toLowerCase() !== absolute(name).toLowerCase()) {
      refusals.add('dns.name', `the records are for ${name} but clients use the endpoint ${spec.endpoint}`, `set endpoint to ${name} (or dns.name to the endpoint) so clients resolve these records`);
    }
    if (spec.aws && spec.vip) {
      refusals.add('vip.address', `the spec has both an NLB (aws) and a VIP (${spec.vip.address}): ${name} can point at one of them`, 'remove the vip section (the NLB is the endpoint) or the aws section (the VIP is), or render dns from a spec with one of them');
    }
    const layout = dnsLayout(spec);
    if (layout === 'nlb') {
      refusals.throwIfAny();
      return [{ path: ROUTE53_FILE, contents: route53(name, ttl, context) }];
    }
    if (layout === 'vip') {
      refusals.throwIfAny();
      const vip = spec.vip as NonNullable<Spec['vip']>;
      return [{ path: ZONE_FILE, contents: zone(context, [
        `; ${name} is the VIP: the LB host (or control-plane node) that holds it answers. The record never changes`,
        '; when the VIP moves, so the TTL does not delay a failover.',
      ], [{ type: vip.family === 4 ? 'A' : 'AAAA', address: vip.address, note: 'VIP' }], absolute(name), ttl) }];
    }
    return [{ path: ZONE_FILE, contents: nodeRecords(spec, refusals, context) }];
  },
};

function zone(context: RenderContext, notes: string[], records: Array<{ type: string; address: string; note: string }>, owner: string, ttl: number): string {
  const width = Math.max(...records.map((r) => r.type.length));
  return [
    header(context, ';').trimEnd(),
    ';',
    ...notes,
    ';',
    ...records.map(({ type, address, note }) => `${owner} ${ttl} IN ${type.padEnd(width)} ${address} ; ${note}`),
    '',
  ].join('\n');
}

/** Round robin: one record per control-plane node, for a spec with no balancer in front of them. */
function nodeRecords(spec: Spec, refusals: Refusals<'dns'>, context: RenderContext): string {
  const { name, ttl } = spec.dns as NonNullable<Spec['dns']>;
  const records = spec.controlPlane.map((node, index) => {
    const family = isIP(node.address);
    if (family === 0) refusals.add('controlPlane[].address', `"${node.address}" is a name, not an address`, 'round-robin records need each node\'s IP address (a CNAME cannot be round-robin)', `controlPlane[${index}].address`);
    return { type: family === 6 ? 'AAAA' : 'A', address: node.address, note: node.name };
  });
  const override = firstPortOverride(spec, spec.listeners.filter((l) => l.targets === 'controlPlane'));
  if (override) {
    refusals.add('controlPlane[].ports', `${override.node} serves ${override.listener.name} on ${override.port}, but DNS records carry no ports: clients reach every node on ${override.listener.port}`, `remove ${override.path} for render dns; round-robin records need every node to serve ${override.listener.name} on the same port`, override.path);
  }
  refusals.throwIfAny();
  const unusable = spec.listeners.filter((l) => l.targets !== 'controlPlane' || l.port !== l.targetPort);
  return zone(context, [
    '; Round-robin records: resolvers hand out every control-plane address and clients pick one.',
    '; DNS does no health checking. A node that is down keeps getting its share of new connections until',
    `; its record is removed and the TTL (${ttl}s) has expired in every cache; many clients also cache`,
    '; longer than the TTL. Use it for development and tests; production wants a balancer or a VIP.',
    ...(unusable.length > 0
      ? [`; Not reachable through these records (DNS has no ports): ${unusable.map((l) => `${l.name} ${l.port} -> ${l.targets}:${l.targetPort}`).join(', ')}.`]
      : []),
  ], records, absolute(name), ttl);
}

/**
 * A Route 53 CNAME from dns.name to the NLB's DNS name, which exists only once Terraform has created the NLB.
 * A CNAME (not an alias) keeps dns.ttl; dns.name must then not be the zone's apex.
 */
function route53(name: string, ttl: number, context: RenderContext): string {
  return `${header(context, '#')}
# ${name} -> the NLB of module "loadbalancer" (render aws, loadbalancer.tf in this directory).
# Clients resolve ${name} to the NLB's addresses, which AWS changes as it scales: never to node addresses.
# Pass the hosted zone: terraform plan -var-file=../envs/aws.tfvars -var route53_zone_id=Z...

variable "route53_zone_id" {
  description = "Route 53 hosted zone that holds ${name} (Z...). Another DNS provider: a CNAME to terraform output nlb_dns_name instead."
  type        = string

  validation {
    condition     = can(regex("^Z[A-Z0-9]+$", var.route53_zone_id))
    error_message = "route53_zone_id must be a hosted zone id such as Z0123456789ABCDEFGHIJ."
  }
}

# A CNAME keeps dns.ttl (${ttl}s); it cannot be the zone's apex (use an alias record to load_balancer_dns_name
# and load_balancer_zone_id of the module there).
resource "aws_route53_record" "endpoint" {
  zone_id = var.route53_zone_id
  name    = ${hclString(absolute(name))}
  type    = "CNAME"
  ttl     = ${ttl}
  records = [module.loadbalancer.load_balancer_dns_name]
}
`;
}
