import { defineRule } from '../../context.js';
import type { RuleFinding } from '../../finding.js';
import { allInstances, instances, KEEPALIVED_MAN, sharesVip } from './instances.js';

const VRRP_RFC = 'https://www.rfc-editor.org/rfc/rfc3768#section-5.3.3 (VRID: the virtual router on a LAN) ; keepalived -t: "both use VRID"';

/**
 * One virtual_router_id for two virtual routers on one segment: within a file, two instances on one
 * interface; across files, instances with the same VRID but different VIPs (two clusters' pairs).
 * Their adverts are taken for each other's, so the wrong node holds a VIP or both claim it.
 */
export const keepalivedDuplicateVrid = defineRule({
  id: 'keepalived/duplicate-vrid',
  kind: 'keepalived',
  check(file, context) {
    const found: RuleFinding[] = [];
    const mine = instances(file);
    mine.forEach((instance, index) => {
      if (instance.virtualRouterId === undefined) return;
      const earlier = mine.slice(0, index).find((o) => o.virtualRouterId === instance.virtualRouterId && o.interface === instance.interface);
      if (earlier) {
        found.push({
          severity: 'error', line: instance.node.line,
          message: `vrrp_instance ${instance.name} uses virtual_router_id ${instance.virtualRouterId} on ${instance.interface ?? 'the default interface'}, as ${earlier.name} (line ${earlier.node.line}) does`,
          why: 'VRRP tells virtual routers apart by VRID on a segment: two instances with one VRID read each other\'s adverts, so their priorities and VIPs mix up (keepalived -t refuses it: "both use VRID")',
          source: `${VRRP_RFC} ; ${KEEPALIVED_MAN}`,
          fix: `give ${instance.name} a virtual_router_id of its own (1-255) that no other VRRP router on the segment uses`,
        });
        return;
      }
      const other = allInstances(context.files).find((o) => o.file !== file && o.virtualRouterId === instance.virtualRouterId && !sharesVip(instance, o));
      if (other) {
        found.push({
          severity: 'error', line: instance.node.line,
          message: `vrrp_instance ${instance.name} (VIPs ${instance.vips.map((v) => v.address).join(', ')}) and ${other.name} in ${other.file.path} (VIPs ${other.vips.map((v) => v.address).join(', ')}) share virtual_router_id ${instance.virtualRouterId}`,
          why: 'instances with the same VRID on one segment are one virtual router to VRRP: the node with the highest priority takes both VIP sets\' role, adverts carry the wrong addresses and keepalived logs "VIPs mismatch"',
          source: `${VRRP_RFC} ; ${KEEPALIVED_MAN}`,
          fix: 'give each pair of LB hosts its own virtual_router_id',
        });
      }
    });
    return found;
  },
});
