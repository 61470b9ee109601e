// spec → /etc/keepalived/keepalived.conf, one file per LB host (vip.peers), written so that the VIP
// really moves when HAProxy dies on the MASTER (see docs/render/keepalived.md for the guide's three bugs).
import type { Peer, Spec, Vip } from '../../spec/types.js';
import { joinHostPort } from '../../spec/address.js';
import { monitor } from '../haproxy/haproxy.js';
import { header } from '../header.js';
import { Refusals } from '../refusals.js';
import type { RenderContext, RenderedFile, Renderer } from '../types.js';
import { otherPeers, planFailover, type FailoverPlan } from './plan.js';

/** The haproxy check: interval, and how many results in a row change its state. Not spec values: see the docs. */
export const CHECK_SCRIPT = { intervalS: 1, connectTimeoutS: 1, timeoutS: 2, fall: 2, rise: 2 } as const;

/** Gratuitous ARP (unsolicited NA for IPv6) so switches and neighbours learn the VIP's new home at once. */
export const GARP = { masterDelayS: 1, masterRepeat: 5, masterRefreshS: 60, masterRefreshRepeat: 2 } as const;

export const keepalivedRenderer: Renderer = {
  target: 'keepalived',
  description: 'keepalived.conf for each LB host of vip.peers (keepalived >= 2.2)',
  // A VIP without peers is the Talos VIP, held by the control-plane nodes: no LB hosts, nothing for keepalived.
  section: { name: 'vip.peers', present: (spec) => (spec.vip?.peers.length ?? 0) > 0 },
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
  const refusals = new Refusals('keepalived');
  if (!spec.vip) refusals.add('vip', 'the spec has no vip section: keepalived needs the floating address and the LB hosts', 'add vip: { address, prefixLength, interface, peers: [{ name, address, priority }, ...] } (see docs/render/keepalived.md)');
  refusals.throwIfAny();
  return spec.vip as Vip;
}

/**
 * The check command: GET HAProxy's monitor URI (render haproxy's stats frontend), healthy on 200 only, so
 * the check goes through HAProxy to its view of the control plane. Bash speaks the HTTP itself over /dev/tcp
 * (Debian's sh, dash, cannot; curl may not be installed); HAProxy takes bare LF line ends, so the request
 * needs no quotes or escapes inside keepalived's quoted script.
 */
export function checkCommand(spec: Spec): string {
  const { host, port, path } = monitor(spec);
  const request = `exec 3<>/dev/tcp/${host}/${port} && { echo GET ${path} HTTP/1.0; echo; } >&3 && /usr/bin/head -n1 <&3 | /usr/bin/grep -qw 200`;
  return `/usr/bin/timeout ${CHECK_SCRIPT.connectTimeoutS} /bin/bash -c '${request}'`;
}

export function renderKeepalivedConfig(spec: Spec, vip: Vip, plan: FailoverPlan, self: Peer, context: RenderContext): string {
  const live = monitor(spec);
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
    `# The check proves HAProxy can serve: its monitor ${live.path} on ${joinHostPort(live.host, live.port)} answers 200 while backend ${live.backend}`,
    '# has a server up. A TCP connect to a frontend would pass with nothing behind it (HAProxy accepts and closes),',
    '# and pidof fails as a check under keepalived 2.2.7.',
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
  // keepalived warns about unicast_src_ip without a unicast_peer and falls back to multicast.
  if (peers.length === 0) return ['    # vip.unicast: one LB host, no peer to advertise to (add the others to vip.peers).'];
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
