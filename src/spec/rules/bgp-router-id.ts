import { isIP } from 'node:net';
import type { Problem } from '../problem.js';
import { bgpView } from './bgp-view.js';
import { text, type Rule } from './rule.js';

/**
 * Each LB host has its own BGP router id, an IPv4 address (BGP's identifier is 32 bits written as one) that no
 * other host and not the shared endpoint has. `auto` is the host's lowest IPv4 address outside lo (BIRD's
 * `router id from`): an IPv6-only fleet may have none, and BIRD then refuses to start, so there the ids are written.
 */
export const bgpRouterId: Rule = {
  id: 'bgp-router-id',
  check(raw) {
    const problems: Problem[] = [];
    if (raw.bgp === undefined) return problems;
    const view = bgpView(raw);
    const announced = new Set(view.announced.map((a) => a.address));
    const shared = text(view.section.routerId);
    const check = (value: string | undefined, path: string) => {
      if (value === undefined) return;
      if (value !== 'auto' && isIP(value) !== 4) {
        problems.push({ code: 'SPEC_VALUE', severity: 'error', path, message: `"${value}" is neither auto nor an IPv4 address`, hint: 'write auto (each host uses its lowest IPv4 address outside lo) or this host\'s IPv4 address' });
      } else if (announced.has(value)) {
        problems.push({ code: 'SPEC_VALUE', severity: 'error', path, message: 'the router id is the endpoint, which every LB host shares', hint: 'the router id must differ per host: use auto, or each host\'s own address in bgp.hosts[].routerId' });
      }
    };
    check(shared, 'bgp.routerId');
    const seen = new Map<string, string>();
    for (const { path, host } of view.hosts) {
      const own = text(host.routerId);
      check(own, `${path}.routerId`);
      const effective = own ?? shared ?? 'auto';
      if (effective === 'auto') continue;
      const first = seen.get(effective);
      if (first) {
        problems.push({ code: 'SPEC_DUPLICATE', severity: 'error', path: own ? `${path}.routerId` : 'bgp.routerId', message: `router id ${effective} is used by ${first} and host ${text(host.name) ?? path}`, hint: 'every host needs its own router id: write it per host in bgp.hosts[].routerId (or use auto)' });
      } else {
        seen.set(effective, `host ${text(host.name) ?? path}`);
      }
    }
    const ipv6Only = view.announced.length > 0 && view.announced.every((a) => a.family === 6);
    if (ipv6Only) {
      const hint = 'an IPv6-only fleet may have no IPv4 address to take the id from (BIRD then cannot start): write one unique IPv4-formatted id per host, e.g. bgp.hosts: [{ name: lb-01, routerId: 10.0.0.1 }, { name: lb-02, routerId: 10.0.0.2 }]';
      if (view.hosts.length === 0) {
        if ((shared ?? 'auto') === 'auto') problems.push({ code: 'SPEC_VALUE', severity: 'error', path: 'bgp.routerId', message: `router id ${shared === undefined ? 'auto (the default)' : 'auto'} takes this host's lowest IPv4 address, and the endpoint and peers are IPv6 only`, hint });
      } else {
        for (const { path, host } of view.hosts) {
          if ((text(host.routerId) ?? shared ?? 'auto') !== 'auto') continue;
          problems.push({ code: 'SPEC_VALUE', severity: 'error', path: `${path}.routerId`, message: `host ${text(host.name) ?? path} has router id auto, which takes its lowest IPv4 address, and the endpoint and peers are IPv6 only`, hint });
        }
      }
    }
    return problems;
  },
};
