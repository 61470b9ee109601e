import { defineRule, type TalosFile } from '../../context.js';
import { layer2Vips, linkDocuments } from './machine-config.js';

/**
 * A Layer2VIPConfig names the link it is announced on. When the files configure links with documents
 * (LinkConfig, LinkAliasConfig, VLANConfig, ...) and none has that name, the VIP is most likely on a link
 * that does not exist (a typo, or the kernel name where an alias was defined). Without any link document
 * doctor cannot tell (the link may be a kernel link configured by DHCP), and says nothing.
 */
export const talosVipLink = defineRule({
  id: 'talos/vip-link',
  kind: 'talos',
  check(file, context) {
    const talosFiles = context.files.filter((f): f is TalosFile => f.kind === 'talos');
    const links = talosFiles.flatMap((f) => linkDocuments(f));
    if (links.length === 0) return [];
    const names = new Set(links.map((l) => l.value));
    return layer2Vips(file).filter((vip) => vip.link !== undefined && !names.has(vip.link)).map((vip) => ({
      severity: 'warning' as const,
      line: vip.linkLine,
      message: `Layer2VIPConfig ${vip.value} is on link ${vip.link}, but the link documents configure ${[...names].join(', ')}`,
      why: 'Talos announces the VIP only on an existing, configured link; on a misspelt link name (or the kernel name of a link that got an alias) the VIP is never assigned and the endpoint is unreachable',
      source: 'https://www.talos.dev/v1.12/reference/configuration/network/layer2vipconfig/ (link: name of the link to assign the VIP to)',
      fix: `set link to the name of the configured link (${[...names][0]}), or add a LinkConfig for ${vip.link}`,
    }));
  },
});
