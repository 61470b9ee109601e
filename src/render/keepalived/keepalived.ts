// spec → /etc/keepalived/keepalived.conf, one file per LB host (vip.peers), written so that the VIP
// really moves when HAProxy dies on the MASTER (see docs/render/keepalived.md for the guide's three bugs).
import { UserError } from '../../errors.js';
import type { Peer, Spec, Vip } from '../../spec/types.js';
import { localFrontend } from '../haproxy/haproxy.js';
import { header } from '../header.js';
import type { RenderContext, RenderedFile, Renderer } from '../types.js';
import { otherPeers, planFailover, type FailoverPlan } from './plan.js';

/** The haproxy check: interval, and how many results in a row change its state. Not spec values: see the docs. */
export const CHECK_SCRIPT = { intervalS: 1, connectTimeoutS: 1, timeoutS: 2, fall: 2, rise: 2 } as const;

/** Gratuitous ARP (unsolicited NA for IPv6) so switches and neighbours learn the VIP's new home at once. */
export const GARP = { masterDelayS: 1, masterRepeat: 5, masterRefreshS: 60, masterRefreshRepeat: 2 } as const;

export const keepalivedRenderer: Renderer = {
  target: 'keepalived',
  description: 'keepalived.conf for each LB host of vip.peers (keepalived >= 2.2)',
  render(spec, context): RenderedFile[] {
    const vip = requireVip(spec);
    const plan = planFailover(vip);
    return vip.peers.map((peer) => ({
      path: `${peer.name}/keepalived.conf`,
      contents: renderKeepalivedConfig(spec, vip, plan, peer, context),
      ...(plan.authPass !== undefined ? { secret: true } : {}),
    }));
  },
};

function requireVip(spec: Spec): Vip {
  if (!spec.vip) {
    throw new UserError('RENDER', 'the spec has no vip section: keepalived needs the floating address and the LB hosts', {
      hint: 'add vip: { address, prefixLength, interface, peers: [{ name, address, priority }, ...] } (see docs/render/keepalived.md)',
    });
  }
  return spec.vip;
}

/** The check command: a TCP connect to HAProxy's local frontend. Bash opens /dev/tcp (Debian's sh, dash, cannot). */
export function checkCommand(spec: Spec): string {
  const frontend = localFrontend(spec);
  return `/usr/bin/timeout ${CHECK_SCRIPT.connectTimeoutS} /bin/bash -c '</dev/tcp/${frontend.host}/${frontend.port}'`;
}

export function renderKeepalivedConfig(spec: Spec, vip: Vip, plan: FailoverPlan, self: Peer, context: RenderContext): string {
  const frontend = localFrontend(spec);
  const state = plan.states.get(self.name) ?? 'BACKUP';
  const peers = otherPeers(vip, self);
  const out: string[] = [header(context, '#').trimEnd()];
  out.push(
    '#',
    `# LB host ${self.name} (${self.address}), priority ${self.priority}. Install as /etc/keepalived/keepalived.conf, then:`,
    '#   keepalived -t -e -f /etc/keepalived/keepalived.conf && systemctl reload keepalived',
    '# Written for keepalived 2.2 (Debian 12) and later.',
    '',
    'global_defs {',
    `    router_id ${self.name}`,
    '    # The check runs as root; script security refuses scripts that other users could change.',
    '    script_user root',
    '    enable_script_security',
    '}',
    '',
    '# Defined before the vrrp_instance that tracks it: keepalived ignores a track_script whose vrrp_script',
    '# comes later ("track script chk_haproxy not found, ignoring").',
    `# The check proves HAProxy serves: a TCP connect to its ${frontend.listener} frontend on ${frontend.host}:${frontend.port}`,
    '# (pidof fails as a check under keepalived 2.2.7, and a live process is not a listening one).',
    'vrrp_script chk_haproxy {',
    `    script "${checkCommand(spec)}"`,
    `    interval ${CHECK_SCRIPT.intervalS}`,
    `    timeout ${CHECK_SCRIPT.timeoutS}`,
    `    fall ${CHECK_SCRIPT.fall}`,
    `    rise ${CHECK_SCRIPT.rise}`,
    ...wrapComment(plan.weightReason, '    '),
    `    weight ${plan.weight}`,
    '}',
    '',
    `vrrp_instance ${spec.cluster.name}-endpoint {`,
    ...(plan.nopreempt ? ['    # vip.preempt false: every host starts as BACKUP (nopreempt requires it).'] : []),
    `    state ${state}`,
    `    interface ${self.interface ?? vip.interface}`,
    `    virtual_router_id ${vip.virtualRouterId}`,
    `    priority ${self.priority}`,
    ...(plan.version === 3 ? ['    # VRRPv3: an IPv6 VIP or a sub-second vip.advertInterval.', '    version 3'] : []),
    `    advert_int ${plan.advertInt}`,
    ...(plan.nopreempt ? ['    nopreempt'] : []),
    ...unicastLines(vip, self, peers),
    ...authLines(vip, plan),
    '    virtual_ipaddress {',
    `        ${vip.address}/${vip.prefixLength} dev ${self.interface ?? vip.interface}`,
    '    }',
    '    track_script {',
    '        chk_haproxy',
    '    }',
    '    # Gratuitous ARP when taking the VIP, repeated, and refreshed while MASTER.',
    `    garp_master_delay ${GARP.masterDelayS}`,
    `    garp_master_repeat ${GARP.masterRepeat}`,
    `    garp_master_refresh ${GARP.masterRefreshS}`,
    `    garp_master_refresh_repeat ${GARP.masterRefreshRepeat}`,
    '}',
  );
  return out.join('\n') + '\n';
}

function unicastLines(vip: Vip, self: Peer, peers: Peer[]): string[] {
  if (!vip.unicast) return ['    # vip.unicast false: advertisements go to the VRRP multicast group.'];
  return [
    '    # vip.unicast: advertisements go straight to the other peers.',
    `    unicast_src_ip ${self.address}`,
    '    unicast_peer {',
    ...peers.map((p) => `        ${p.address}`),
    '    }',
  ];
}

function authLines(vip: Vip, plan: FailoverPlan): string[] {
  if (plan.authPass === undefined) return [];
  const truncated = (vip.authKey?.length ?? 0) > 8;
  return [
    '    # vip.authKey: VRRPv2 PASS authentication (plain text on the wire; it keeps stray routers out, it is',
    `    # not security).${truncated ? ' keepalived uses only the first 8 characters of the key.' : ''}`,
    '    authentication {',
    '        auth_type PASS',
    `        auth_pass ${plan.authPass}`,
    '    }',
  ];
}

function wrapComment(text: string, indent: string, width = 100): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && indent.length + 2 + line.length + 1 + word.length > width) {
      lines.push(`${indent}# ${line}`);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(`${indent}# ${line}`);
  return lines;
}
