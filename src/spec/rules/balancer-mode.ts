import { isIP } from 'node:net';
import type { Problem } from '../problem.js';
import { entries, record, type Rule } from './rule.js';

/** What only one mode can do: the kernel forwards by address and cannot count connections; the proxy cannot keep the client's address. */
export const balancerMode: Rule = {
  id: 'balancer-mode',
  check(raw) {
    const problems: Problem[] = [];
    const balancer = record(raw.balancer);
    const kernel = balancer.mode === 'kernel';
    if (!kernel) {
      if (balancer.preserveClientIp !== undefined) {
        problems.push({
          code: 'SPEC_VALUE', severity: 'error', path: 'balancer.preserveClientIp',
          message: 'preserveClientIp applies to balancer.mode: kernel only (the proxy always connects to servers from the balancer\'s own address)',
          hint: 'set balancer.mode: kernel, or remove balancer.preserveClientIp',
        });
      }
      return problems;
    }
    if (balancer.preserveClientIp === true) {
      problems.push({
        code: 'SPEC_VALUE', severity: 'warning', path: 'balancer.preserveClientIp',
        message: 'servers see the client\'s own address, so their replies must come back through this balancer; if they go out another way, every connection hangs after its first packet',
        hint: 'on every server, `ip route get <a client address>` must name this balancer as the next hop: make it the servers\' default gateway, or add a policy route for replies from the listener ports (docs/kernel.md); otherwise set preserveClientIp: false',
      });
    }
    const leastconn = (value: unknown, path: string) => {
      if (value !== 'leastconn') return;
      problems.push({
        code: 'SPEC_VALUE', severity: 'error', path,
        message: 'leastconn is not available with balancer.mode: kernel (the kernel picks a server per new flow without counting connections); use roundrobin or source',
        hint: 'use roundrobin (weights apply) or source (the same client address goes to the same server), or balancer.mode: proxy',
      });
    };
    leastconn(balancer.balance, 'balancer.balance');
    for (const [index, listener] of entries(raw.listeners)) leastconn(listener.balance, `listeners[${index}].balance`);
    if (typeof balancer.bind === 'string' && isIP(balancer.bind) === 0) {
      problems.push({
        code: 'SPEC_ADDRESS', severity: 'error', path: 'balancer.bind',
        message: `"${balancer.bind}" is a name; balancer.mode: kernel matches packets by address`,
        hint: 'use an IP address of this host (or the VIP), or 0.0.0.0 / :: for every local address',
      });
    }
    for (const group of ['controlPlane', 'workers'] as const) {
      for (const [index, node] of entries(raw[group])) {
        if (typeof node.address !== 'string' || isIP(node.address) !== 0) continue;
        problems.push({
          code: 'SPEC_ADDRESS', severity: 'error', path: `${group}[${index}].address`,
          message: `"${node.address}" is a DNS name; balancer.mode: kernel forwards to addresses and resolves nothing`,
          hint: 'write the node\'s IP address, or use balancer.mode: proxy',
        });
      }
    }
    return problems;
  },
};
