import { isIP } from 'node:net';
import { defineRule } from '../../context.js';
import { specLine, written } from './where.js';

/**
 * An IPv6 endpoint served by listeners bound to an IPv4 address: 0.0.0.0 (the default) accepts no IPv6
 * connections, so `serve` (and a rendered HAProxy, which binds the same address) never answers on the
 * endpoint. Only where the balancer serves the endpoint: not for a Talos VIP (a VIP without peers).
 */
export const specIpv6EndpointIpv4Bind = defineRule({
  id: 'spec/ipv6-endpoint-ipv4-bind',
  kind: 'spec',
  check(file) {
    const spec = file.result.spec;
    if (!spec) return [];
    if (spec.vip && spec.vip.peers.length === 0) return [];
    const address = spec.vip?.address ?? spec.endpoint;
    if (isIP(address) !== 6 || isIP(spec.balancer.bind) !== 4) return [];
    const explicit = written(file, ['balancer', 'bind']) !== undefined;
    return [{
      severity: 'warning' as const,
      line: explicit ? specLine(file, ['balancer', 'bind']) : specLine(file, spec.vip ? ['vip', 'address'] : ['endpoint']),
      message: `the endpoint ${address} is IPv6 but the listeners bind ${spec.balancer.bind}${explicit ? '' : ' (the default)'}`,
      why: 'a socket bound to an IPv4 address accepts only IPv4: clients connecting to the IPv6 endpoint get "connection refused" from serve (and from HAProxy rendered from this spec)',
      source: 'docs/spec.md (balancer.bind) ; https://man7.org/linux/man-pages/man7/ipv6.7.html (IPV6_V6ONLY: "::" also accepts IPv4)',
      fix: `set balancer.bind: "::" (every address, both families) or the endpoint ${address} itself`,
    }];
  },
});
