import { isIP } from 'node:net';
import { sameIpv4Subnet } from '../../../spec/address.js';
import { defineRule } from '../../context.js';
import { instances, KEEPALIVED_MAN } from './instances.js';

/**
 * A VIP written with a prefix (192.168.30.30/24) says which subnet it lives in; the node's own address
 * (unicast_src_ip, else the unicast peers, which share its segment) must be in it, or the VIP is added
 * where no neighbour can reach it and gratuitous ARP for it goes unanswered.
 */
export const keepalivedVipSubnet = defineRule({
  id: 'keepalived/vip-subnet',
  kind: 'keepalived',
  check(file) {
    return instances(file).flatMap((instance) => {
      const own = instance.unicastSrc ? [instance.unicastSrc.address] : (instance.unicastPeers ?? []).map((p) => p.address);
      const nodes = own.filter((a) => isIP(a) === 4);
      if (nodes.length === 0) return [];
      return instance.vips
        .filter((vip) => isIP(vip.address) === 4 && vip.prefix !== undefined && vip.prefix < 32 && !nodes.some((n) => sameIpv4Subnet(vip.address, n, vip.prefix ?? 32)))
        .map((vip) => ({
          severity: 'error' as const,
          line: vip.line,
          message: `VIP ${vip.address}/${vip.prefix} of vrrp_instance ${instance.name} is outside the subnet of ${instance.unicastSrc ? `its unicast_src_ip ${nodes[0]}` : `its unicast peers ${nodes.join(', ')}`}`,
          why: 'keepalived adds the VIP to the interface and announces it with gratuitous ARP; neighbours on the segment only talk to addresses of their subnet, so an address from another subnet is unreachable (or needs routes nobody configured)',
          source: `${KEEPALIVED_MAN} (virtual_ipaddress) ; reference guide, "VIP Requirements" ("an unused IP on the same subnet")`,
          fix: `use an unused address in the LB hosts' subnet, or correct the prefix`,
        }));
    });
  },
});
