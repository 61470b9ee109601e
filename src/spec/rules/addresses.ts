import { addressKind, splitHostPort } from '../address.js';
import type { Problem } from '../problem.js';
import { entries, record, type Rule } from './rule.js';

const HINT = 'use an IPv4 address (192.168.30.31), an IPv6 address (fd00::31) or a DNS name (cp-01.example.com)';

/** Every address is an IPv4 address, an IPv6 address or a DNS name. */
export const addresses: Rule = {
  id: 'addresses',
  check(raw) {
    const problems: Problem[] = [];
    const checkAddress = (value: unknown, path: string) => {
      if (typeof value === 'string' && !addressKind(value)) {
        problems.push({ code: 'SPEC_ADDRESS', severity: 'error', path, message: `"${value}" is not a valid address`, hint: HINT });
      }
    };
    checkAddress(raw.endpoint, 'endpoint');
    for (const group of ['controlPlane', 'workers'] as const) {
      for (const [index, node] of entries(raw[group])) checkAddress(node.address, `${group}[${index}].address`);
    }
    const balancer = record(raw.balancer);
    checkAddress(balancer.bind, 'balancer.bind');
    if (typeof balancer.admin === 'string') {
      const parsed = splitHostPort(balancer.admin);
      if (!parsed || !addressKind(parsed.host)) {
        problems.push({ code: 'SPEC_ADDRESS', severity: 'error', path: 'balancer.admin', message: `"${balancer.admin}" is not host:port`, hint: 'write it as 127.0.0.1:8404 or [::1]:8404 (port 1-65535)' });
      }
    }
    const vip = record(raw.vip);
    if (typeof vip.address === 'string') {
      const kind = addressKind(vip.address);
      if (kind !== 'ipv4' && kind !== 'ipv6') {
        problems.push({ code: 'SPEC_ADDRESS', severity: 'error', path: 'vip.address', message: `"${vip.address}" is not an IP address`, hint: 'a VIP is an IPv4 or IPv6 address, not a DNS name' });
      }
    }
    for (const [index, peer] of entries(vip.peers)) checkAddress(peer.address, `vip.peers[${index}].address`);
    return problems;
  },
};
