import { defineRule } from '../../context.js';
import type { RuleFinding } from '../../finding.js';
import { KEEPALIVED_KEYWORDS } from '../../keywords/keepalived.js';
import type { KeepalivedNode } from '../../parsers/keepalived.js';
import { misspeltKeyword } from '../../spelling.js';
import { KEEPALIVED_MAN } from './instances.js';

/** Blocks whose entries are values (addresses, script and interface names), not keywords. */
const VALUE_BLOCKS = new Set([
  'virtual_ipaddress', 'virtual_ipaddress_excluded', 'virtual_routes', 'virtual_rules', 'static_ipaddress', 'static_routes', 'static_rules',
  'track_script', 'track_interface', 'track_file', 'track_process', 'track_bfd', 'track_group', 'unicast_peer', 'group', 'interfaces',
  'linkbeat_interfaces', 'notification_email', 'process_names', 'vrrp_iptables', 'vrrp_ipsets', 'vrrp_nftables',
]);

/**
 * Misspelt keywords, as `keepalived -t` reports them ("Unknown keyword"): keepalived ignores the line
 * and starts anyway, so `priorty 150` leaves the default priority (100) in force. Known: every keyword
 * keepalived 2.0 to the newest release registers or documents (src/doctor/keywords/keepalived.ts).
 */
export const keepalivedUnknownKeyword = defineRule({
  id: 'keepalived/unknown-keyword',
  kind: 'keepalived',
  check(file) {
    const found: RuleFinding[] = [];
    const visit = (nodes: KeepalivedNode[]) => {
      for (const node of nodes) {
        const typo = misspeltKeyword(node.keyword, KEEPALIVED_KEYWORDS);
        if (typo) {
          found.push({
            severity: 'error', line: node.line,
            message: `unknown keyword '${node.keyword}'; did you mean '${typo}'?`,
            why: `keepalived logs "Unknown keyword" and ignores the line, so ${typo} keeps its default (keepalived -t exits non-zero, but the daemon starts anyway)`,
            source: `${KEEPALIVED_MAN} ; keepalived -t`,
            fix: `write ${typo}`,
          });
        }
        if (!VALUE_BLOCKS.has(node.keyword)) visit(node.children);
      }
    };
    visit(file.config.nodes);
    return found;
  },
});
