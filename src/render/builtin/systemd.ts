// `render builtin`: a systemd unit per LB host running `cluster-endpoint serve` (balancer + floating VIP), locked
// down to what serve needs: bind low ports, manage the VIP address, send gratuitous ARP. The Debian package ships
// the unit this renders for its example spec (packaging/debian.ts): one source, so the two cannot drift apart.
import { isAbsolute } from 'node:path';
import { credentialName } from '../../credentials.js';
import { UserError } from '../../errors.js';
import type { Spec } from '../../spec/types.js';
import { header } from '../header.js';
import type { RenderContext, RenderedFile, Renderer } from '../types.js';

export const UNIT_NAME = 'cluster-endpoint.service';
export const SPEC_PATH = '/etc/cluster-endpoint/endpoint.yaml';
export const ENV_FILE = '/etc/cluster-endpoint/env';
/**
 * The executable a unit runs unless told otherwise: a plain name, which systemd (239 and later) looks up in
 * /usr/local/bin, /usr/bin and their sbin siblings when the unit starts — where the README's install routes and the
 * .deb put it. A name rather than a path also keeps `render --check` output the same on every machine.
 */
export const BINARY = 'cluster-endpoint';
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

/** LimitNOFILE never below this: what serve needs besides its connections (checks, admin, logs) has room. */
export const MIN_DESCRIPTOR_LIMIT = 65536;

/** LimitNOFILE: two descriptors per proxied connection, maxConnections per listener, and room for the rest. */
export function descriptorLimit(spec: Spec): number {
  return Math.max(MIN_DESCRIPTOR_LIMIT, spec.balancer.maxConnections * 2 * Math.max(1, spec.listeners.length) + 1024);
}

/** Stop timeout: the VIP handover (≤ 3 advertisement intervals), then the deregistration delay, plus a margin. */
export function stopTimeoutSeconds(spec: Spec): number {
  const handoverMs = spec.vip ? 3 * spec.vip.advertIntervalMs + Math.max(2 * spec.vip.advertIntervalMs, 250) : 0;
  return Math.ceil((spec.deregistrationDelayMs + handoverMs) / 1000) + 15;
}

/** How the Debian package's copy differs from `render builtin`'s: only in what its comment says. */
export interface UnitOptions {
  /** Comment lines after the header (default: how to install the rendered unit by hand). */
  install?: string[];
}

export function renderUnit(spec: Spec, context: RenderContext, peer?: string, options: UnitOptions = {}): string {
  const vip = spec.vip;
  const binary = context.binary ?? BINARY;
  // Never the cluster's name: the packaged unit is rendered from the example spec, and a unit outlives spec edits.
  const what = vip && peer ? `control-plane load balancer and floating VIP ${vip.address} (peer ${peer})` : 'control-plane load balancer';
  const lines = [
    header(context, '#').trimEnd(),
    ...(options.install ?? [
      `# Install: copy the spec to ${SPEC_PATH}${vip ? ` and put CLUSTER_ENDPOINT_VIP_KEY=<shared key> in ${ENV_FILE} (mode 0600)` : ''},`,
      `# then: cp ${UNIT_NAME} /etc/systemd/system/ && systemctl daemon-reload && systemctl enable --now cluster-endpoint`,
      ...(binary === BINARY ? ['# systemd finds cluster-endpoint in /usr/local/bin or /usr/bin; anywhere else: render builtin --binary PATH.'] : []),
    ]),
    '',
    '[Unit]',
    `Description=cluster-endpoint serve: ${what}`,
    'Documentation=https://github.com/cluster-endpoint/cluster-endpoint/blob/main/docs/vip.md',
    'After=network-online.target',
    'Wants=network-online.target',
    '',
    '[Service]',
    'Type=simple',
    '# An invalid spec fails the start with its problems in the journal instead of starting serve.',
    `ExecStartPre=${binary} validate -c ${SPEC_PATH}`,
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
  const credentials = credentialFiles(spec);
  if (credentials.length > 0) {
    lines.push(
      '# The health checks\' client certificate and key: systemd reads them as root and gives serve a private copy',
      '# in $CREDENTIALS_DIRECTORY, so they stay readable by root only on disk. Copied at start: restart after a change.',
      ...credentials.map((path) => `LoadCredential=${credentialName(path)}:${path}`),
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
    `LimitNOFILE=${descriptorLimit(spec)}`,
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

/**
 * The files serve reads through systemd credentials: every health check's client certificate and key (the pair, so a
 * rotated pair is always read together). serve finds each copy by its file name (src/credentials.ts), so two files
 * of one name cannot both be loaded.
 */
export function credentialFiles(spec: Spec): string[] {
  const byName = new Map<string, string>();
  for (const listener of spec.listeners) {
    const certificate = listener.healthCheck.clientCertificate;
    if (!certificate) continue;
    for (const [field, path] of [['certFile', certificate.certFile], ['keyFile', certificate.keyFile]] as const) {
      const where = `listeners[${listener.name}].healthCheck.clientCertificate.${field}`;
      if (!isAbsolute(path)) {
        throw new UserError('RENDER', `${where}: "${path}" is relative; under systemd serve runs in / and LoadCredential= needs an absolute path`, { hint: `write the full path, e.g. /etc/cluster-endpoint/${credentialName(path)}` });
      }
      const name = credentialName(path);
      const seen = byName.get(name);
      if (seen !== undefined && seen !== path) {
        throw new UserError('RENDER', `${where}: ${path} and ${seen} have the same file name "${name}"; serve finds a credential by its file name`, { hint: 'give the files different names (e.g. kubernetes-client.key, talos-client.key)' });
      }
      byName.set(name, path);
    }
  }
  return [...byName.values()];
}
