// render dns: round-robin A / AAAA records for the control-plane nodes under dns.name.
import { isIP } from 'node:net';
import { UserError } from '../../errors.js';
import { header } from '../header.js';
import { firstPortOverride } from '../node-ports.js';
import type { RenderedFile, Renderer } from '../types.js';

export const ZONE_FILE = 'records.zone';

function fail(path: string, message: string, hint: string): never {
  throw new UserError('RENDER', `${path}: ${message}`, { hint });
}

const absolute = (name: string) => (name.endsWith('.') ? name : `${name}.`);

export const dnsRenderer: Renderer = {
  target: 'dns',
  description: 'zone-file A / AAAA round-robin records for the control-plane nodes',
  section: { name: 'dns', present: (spec) => spec.dns !== undefined },
  render(spec, context): RenderedFile[] {
    const dns = spec.dns;
    if (!dns) fail('dns', 'render dns needs the record name', 'add dns: { name: api.example.com, ttl: 30 } (ttl in seconds, default 30)');
    const owner = absolute(dns.name);
    if (absolute(spec.endpoint).toLowerCase() !== owner.toLowerCase()) {
      fail('dns.name', `the records are for ${dns.name} but clients use the endpoint ${spec.endpoint}`, `set endpoint to ${dns.name} (or dns.name to the endpoint) so clients resolve these records`);
    }
    const records = spec.controlPlane.map((node, index) => {
      const family = isIP(node.address);
      if (family === 0) fail(`controlPlane[${index}].address`, `"${node.address}" is a name, not an address`, 'round-robin records need each node\'s IP address (a CNAME cannot be round-robin)');
      return { node, type: family === 4 ? 'A' : 'AAAA' };
    });
    const override = firstPortOverride(spec, spec.listeners.filter((l) => l.targets === 'controlPlane'));
    if (override) {
      fail(override.path, `${override.node} serves ${override.listener.name} on ${override.port}, but DNS records carry no ports: clients reach every node on ${override.listener.port}`, `remove ${override.path} for render dns; round-robin records need every node to serve ${override.listener.name} on the same port`);
    }
    const width = Math.max(...records.map((r) => r.type.length));
    const unusable = spec.listeners.filter((l) => l.targets !== 'controlPlane' || l.port !== l.targetPort);
    const lines = [
      header(context, ';').trimEnd(),
      ';',
      '; Round-robin records: resolvers hand out every control-plane address and clients pick one.',
      '; DNS does no health checking. A node that is down keeps getting its share of new connections until',
      `; its record is removed and the TTL (${dns.ttl}s) has expired in every cache; many clients also cache`,
      '; longer than the TTL. Use it for development and tests; production wants a balancer or a VIP.',
      ...(unusable.length > 0
        ? [`; Not reachable through these records (DNS has no ports): ${unusable.map((l) => `${l.name} ${l.port} -> ${l.targets}:${l.targetPort}`).join(', ')}.`]
        : []),
      ';',
      ...records.map(({ node, type }) => `${owner} ${dns.ttl} IN ${type.padEnd(width)} ${node.address} ; ${node.name}`),
      '',
    ];
    return [{ path: ZONE_FILE, contents: lines.join('\n') }];
  },
};
