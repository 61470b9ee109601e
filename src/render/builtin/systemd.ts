// `render builtin`: a systemd unit per LB host running `cluster-endpoint serve` (balancer + floating VIP), locked
// down to what serve needs: bind low ports, manage the VIP address, send gratuitous ARP.
import type { Spec } from '../../spec/types.js';
import { header } from '../header.js';
import type { RenderContext, RenderedFile, Renderer } from '../types.js';

export const UNIT_NAME = 'cluster-endpoint.service';
export const SPEC_PATH = '/etc/cluster-endpoint/endpoint.yaml';
export const ENV_FILE = '/etc/cluster-endpoint/env';
export const BINARY = '/usr/local/bin/cluster-endpoint';
/** Scheduling priority of serve: VIP timers and the takeover's `ip`/`arping` must not queue behind other work. */
export const NICE = -10;

/** What serve needs and nothing else: bind ports < 1024, add/remove the VIP, raw ARP/NA packets (arping, ndptool). */
export const CAPABILITIES = ['CAP_NET_BIND_SERVICE', 'CAP_NET_ADMIN', 'CAP_NET_RAW'] as const;

export const builtinRenderer: Renderer = {
  target: 'builtin',
  description: 'systemd unit(s) running `cluster-endpoint serve` on the LB hosts (one per vip.peers or bgp.hosts entry), hardened',
  render: (spec, context) => renderUnits(spec, context),
};

export function renderUnits(spec: Spec, context: RenderContext): RenderedFile[] {
  // One unit per LB host that the spec names (vip.peers, or bgp.hosts), each with its --peer.
  const peers: ReadonlyArray<{ name: string }> = spec.vip?.peers.length ? spec.vip.peers : spec.bgp?.hosts ?? [];
  if (peers.length === 0) return [{ path: UNIT_NAME, contents: renderUnit(spec, context) }];
  return peers.map((peer) => ({ path: `${peer.name}/${UNIT_NAME}`, contents: renderUnit(spec, context, peer.name) }));
}

/** Stop timeout: the VIP handover (≤ 3 advertisement intervals), then the deregistration delay, plus a margin. */
export function stopTimeoutSeconds(spec: Spec): number {
  const handoverMs = spec.vip ? 3 * spec.vip.advertIntervalMs + Math.max(2 * spec.vip.advertIntervalMs, 250) : 0;
  return Math.ceil((spec.deregistrationDelayMs + handoverMs) / 1000) + 15;
}

/** How the Debian package differs from `render builtin`: where the binary is, and what the comment says. */
export interface UnitOptions {
  /** Path of the executable (default BINARY, where the README's install puts it). */
  binary?: string;
  /** Comment lines after the header (default: how to install the rendered unit by hand). */
  install?: string[];
  /** Run `validate` before serve, so an invalid spec fails the start with its problems in the journal. */
  validateFirst?: boolean;
}

export function renderUnit(spec: Spec, context: RenderContext, peer?: string, options: UnitOptions = {}): string {
  const vip = spec.vip;
  const binary = options.binary ?? BINARY;
  const what = vip && peer ? `balancer and floating VIP ${vip.address} (peer ${peer})` : 'balancer';
  const lines = [
    header(context, '#').trimEnd(),
    ...(options.install ?? [
      `# Install: copy the spec to ${SPEC_PATH}${vip ? ` and put CLUSTER_ENDPOINT_VIP_KEY=<shared key> in ${ENV_FILE} (mode 0600)` : ''},`,
      `# then: cp ${UNIT_NAME} /etc/systemd/system/ && systemctl daemon-reload && systemctl enable --now cluster-endpoint`,
    ]),
    '',
    '[Unit]',
    `Description=cluster-endpoint serve for ${spec.cluster.name}: ${what}`,
    'Documentation=https://github.com/cluster-endpoint/cluster-endpoint/blob/main/docs/vip.md',
    'After=network-online.target',
    'Wants=network-online.target',
    '',
    '[Service]',
    'Type=simple',
    ...(options.validateFirst ? [`ExecStartPre=${binary} validate -c ${SPEC_PATH}`] : []),
    `ExecStart=${binary} serve -c ${SPEC_PATH}${peer ? ` --peer ${peer}` : ''}`,
    'ExecReload=/bin/kill -HUP $MAINPID',
  ];
  if (vip && peer) {
    lines.push(
      '# After a crash (no planned stop) the VIP would stay on the interface and the kernel would keep answering ARP',
      '# for it next to the new holder: take it off. "-": nothing to do when serve already released it.',
      `ExecStopPost=-/usr/sbin/ip addr del ${vip.address}/${vip.prefixLength} dev ${vip.peers.find((p) => p.name === peer)?.interface ?? vip.interface}`,
    );
  }
  lines.push(
    '# SIGTERM: hand the VIP over (priority 0), stop accepting, drain for the deregistration delay, exit 0.',
    'KillSignal=SIGTERM',
    '# systemctl restart (and package upgrades) send SIGUSR2: with balancer.mode kernel the nftables table stays,',
    '# established flows go on and the new serve adopts it; in proxy mode it is the same as SIGTERM.',
    'RestartKillSignal=SIGUSR2',
    `TimeoutStopSec=${stopTimeoutSeconds(spec)}`,
    'Restart=always',
    'RestartSec=1',
    `EnvironmentFile=-${ENV_FILE}`,
    '# /run/cluster-endpoint (RUNTIME_DIRECTORY): the files of the helpers serve supervises (conntrackd for',
    '# vip.sync, the BGP speaker); the only place serve writes.',
    'RuntimeDirectory=cluster-endpoint',
    'RuntimeDirectoryMode=0700',
    `Nice=${NICE}`,
    `LimitNOFILE=${Math.max(65536, spec.balancer.maxConnections * 2 * Math.max(1, spec.listeners.length) + 1024)}`,
    '',
    '# Hardening: an unprivileged dynamic user with only the network capabilities serve needs.',
    'DynamicUser=yes',
    `AmbientCapabilities=${CAPABILITIES.join(' ')}`,
    `CapabilityBoundingSet=${CAPABILITIES.join(' ')}`,
    'NoNewPrivileges=yes',
    'ProtectSystem=strict',
    'ProtectHome=yes',
    'PrivateTmp=yes',
    'PrivateDevices=yes',
    'ProtectKernelTunables=yes',
    'ProtectKernelModules=yes',
    'ProtectKernelLogs=yes',
    'ProtectControlGroups=yes',
    'ProtectClock=yes',
    'ProtectHostname=yes',
    'ProtectProc=invisible',
    'RestrictNamespaces=yes',
    'RestrictRealtime=yes',
    'RestrictSUIDSGID=yes',
    'LockPersonality=yes',
    'RemoveIPC=yes',
    'UMask=0077',
    '# AF_NETLINK: ip addr; AF_PACKET: gratuitous ARP / neighbour advertisements.',
    'RestrictAddressFamilies=AF_INET AF_INET6 AF_NETLINK AF_UNIX AF_PACKET',
    'SystemCallArchitectures=native',
    'SystemCallFilter=@system-service',
    'SystemCallFilter=~@mount @debug @cpu-emulation @obsolete @raw-io @reboot @swap @module @clock',
    '# A filtered call fails with EPERM instead of killing serve (arping tries to drop privileges it does not have).',
    'SystemCallErrorNumber=EPERM',
    '# Not MemoryDenyWriteExecute: Node\'s JIT needs writable executable memory.',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  );
  return lines.join('\n');
}
