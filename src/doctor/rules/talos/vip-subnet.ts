import { isIP } from 'node:net';
import { sameHost, sameIpv4Subnet } from '../../../spec/address.js';
import { defineRule } from '../../context.js';
import { nodeAddresses, TALOS_VIP_DOCS, vips } from './machine-config.js';

/** A Talos VIP must be an unused address in the control-plane subnet: nodes announce it with gratuitous ARP. */
export const talosVipSubnet = defineRule({
  id: 'talos/vip-subnet',
  kind: 'talos',
  check(file, context) {
    const addresses = nodeAddresses(file).map((a) => {
      const [ip, prefix] = a.value.split('/');
      return { ...a, ip, prefix: prefix === undefined ? undefined : Number(prefix) };
    });
    const specNodes = context.spec?.controlPlane ?? [];
    const found = [];
    for (const vip of vips(file)) {
      const same = addresses.find((a) => sameHost(a.ip, vip.value)) ?? specNodes.find((n) => sameHost(n.address, vip.value));
      if (same) {
        found.push({
          severity: 'error' as const, line: vip.line,
          message: `the VIP ${vip.value} is a node's own address`,
          why: 'the VIP moves between nodes; when another node takes it, two hosts answer ARP for one address and traffic goes to either',
          source: `${TALOS_VIP_DOCS} ("The VIP must be an unused IP")`,
          fix: 'pick an unused address in the control-plane subnet for the VIP',
        });
        continue;
      }
      const v4 = addresses.filter((a) => isIP(a.ip) === 4 && a.prefix !== undefined);
      if (isIP(vip.value) === 4 && v4.length > 0 && !v4.some((a) => sameIpv4Subnet(vip.value, a.ip, a.prefix ?? 32))) {
        found.push({
          severity: 'error' as const, line: vip.line,
          message: `the VIP ${vip.value} is outside the node's subnet (${v4.map((a) => a.value).join(', ')})`,
          why: 'Talos announces the VIP with gratuitous ARP on the node\'s link; outside that subnet no one routes to it and the endpoint is unreachable',
          source: `${TALOS_VIP_DOCS} ("on the same subnet as the control plane nodes")`,
          fix: `use an unused address inside ${v4[0].value.replace(/\.\d+\//, '.0/')}`,
        });
      }
    }
    return found;
  },
});
