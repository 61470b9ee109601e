import { isIP } from 'node:net';
import { sameHost, sameIpv4Subnet } from '../address.js';
import type { Problem } from '../problem.js';
import { entries, record, type Rule } from './rule.js';

/**
 * The VIP is an unused address (never a node's or a peer's), and peers have unique names and priorities
 * (equal priorities make the election fall back to address order, which surprises people).
 */
export const vip: Rule = {
  id: 'vip',
  check(raw) {
    const problems: Problem[] = [];
    const section = record(raw.vip);
    const address = typeof section.address === 'string' ? section.address : undefined;
    if (!address) return problems;
    for (const group of ['controlPlane', 'workers'] as const) {
      for (const [index, node] of entries(raw[group])) {
        if (typeof node.address === 'string' && sameHost(node.address, address)) {
          problems.push({ code: 'SPEC_VALUE', severity: 'error', path: 'vip.address', message: `the VIP ${address} is the address of ${group}[${index}] (${String(node.name)})`, hint: 'a VIP must be an unused address in the same subnet; pick a free one' });
        }
      }
    }
    const peerNames = new Set<string>();
    const priorities = new Map<number, string>();
    for (const [index, peer] of entries(section.peers)) {
      if (typeof peer.address === 'string' && sameHost(peer.address, address)) {
        problems.push({ code: 'SPEC_VALUE', severity: 'error', path: `vip.peers[${index}].address`, message: `peer ${String(peer.name)} has the VIP's address`, hint: 'give each LB host its own address; the VIP floats between them' });
      }
      if (typeof peer.name === 'string') {
        if (peerNames.has(peer.name)) problems.push({ code: 'SPEC_DUPLICATE', severity: 'error', path: `vip.peers[${index}].name`, message: `peer name "${peer.name}" is used twice`, hint: 'give every peer a unique name' });
        peerNames.add(peer.name);
      }
      if (typeof peer.priority === 'number') {
        const first = priorities.get(peer.priority);
        if (first) problems.push({ code: 'SPEC_DUPLICATE', severity: 'error', path: `vip.peers[${index}].priority`, message: `priority ${peer.priority} is already used by ${first}`, hint: 'give every peer a different priority (e.g. 100, 90, 80)' });
        else priorities.set(peer.priority, `peer ${String(peer.name)}`);
      }
    }
    const prefix = typeof section.prefixLength === 'number' ? section.prefixLength : 24;
    if (isIP(address) === 4) {
      for (const [index, node] of entries(raw.controlPlane)) {
        if (typeof node.address === 'string' && isIP(node.address) === 4 && !sameIpv4Subnet(address, node.address, prefix)) {
          problems.push({ code: 'SPEC_VALUE', severity: 'warning', path: 'vip.address', message: `the VIP ${address}/${prefix} is not in the subnet of controlPlane[${index}] (${node.address})`, hint: 'a Talos VIP must be in the control-plane subnet; for an LB pair it must be in the LB hosts\' subnet' });
          break;
        }
      }
    }
    return problems;
  },
};
