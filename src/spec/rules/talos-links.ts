import type { Problem } from '../problem.js';
import { record, text, type Rule } from './rule.js';

/** Linux link names are at most 15 characters (IFNAMSIZ - 1). */
const MAX_LINK_NAME = 15;

/**
 * The Talos link layout says one thing: a bond's members are other links than the bond, listed once; a bond is
 * built from named links (render talos has no selector per member); and the VLAN link's name (<interface>.<vlan>)
 * fits in a Linux link name.
 */
export const talosLinks: Rule = {
  id: 'talos-links',
  check(raw) {
    const problems: Problem[] = [];
    const talos = record(raw.talos);
    const iface = text(talos.interface) ?? text(record(raw.vip).interface) ?? 'eth0';
    if (talos.bond !== undefined) {
      const bond = record(talos.bond);
      if (talos.deviceSelector !== undefined) {
        problems.push({ code: 'SPEC_VALUE', severity: 'error', path: 'talos.deviceSelector', message: 'with talos.bond the members are named in talos.bond.links; a device selector finds one link, not a bond', hint: 'remove talos.deviceSelector and list the member links (kernel names) in talos.bond.links' });
      }
      const seen = new Set<string>();
      (Array.isArray(bond.links) ? bond.links : []).forEach((link, index) => {
        if (typeof link !== 'string') return;
        const path = `talos.bond.links[${index}]`;
        if (link === iface) problems.push({ code: 'SPEC_VALUE', severity: 'error', path, message: `${link} is the bond itself (talos.interface)`, hint: 'talos.interface names the bond (e.g. bond0); talos.bond.links are its members (e.g. eth0, eth1)' });
        if (seen.has(link)) problems.push({ code: 'SPEC_DUPLICATE', severity: 'error', path, message: `link ${link} is listed twice`, hint: 'list each member link once' });
        seen.add(link);
      });
    }
    if (typeof talos.vlan === 'number' && `${iface}.${talos.vlan}`.length > MAX_LINK_NAME) {
      problems.push({ code: 'SPEC_VALUE', severity: 'error', path: 'talos.vlan', message: `the VLAN link ${iface}.${talos.vlan} has a name longer than ${MAX_LINK_NAME} characters, which Linux refuses`, hint: 'use a shorter talos.interface (with a deviceSelector it is an alias you choose, e.g. uplink)' });
    }
    return problems;
  },
};
