// spec → /etc/haproxy/haproxy.cfg for the LB hosts (one file, the same on every host).
// Every value traces to the spec; the few settings with no spec counterpart say why in a comment.
import { isIP } from 'node:net';
import { addressKind, isLoopback, joinHostPort, sameHost } from '../../spec/address.js';
import { mainListener } from '../../spec/listener-role.js';
import type { HealthCheck, Listener, Spec } from '../../spec/types.js';
import { header } from '../header.js';
import { checkPath, Refusals } from '../refusals.js';
import type { RenderContext, RenderedFile, Renderer } from '../types.js';
import { haproxyTime } from './time.js';

/** Relative to the output directory (`render all` puts it under haproxy/). */
export const HAPROXY_CONFIG_PATH = 'haproxy.cfg';

/** Connections the stats frontend may hold, on top of the listeners' maxconn. */
const STATS_MAXCONN = 100;

export const haproxyRenderer: Renderer = {
  target: 'haproxy',
  description: 'haproxy.cfg for the HAProxy + Keepalived LB hosts (HAProxy >= 2.6)',
  render: (spec, context): RenderedFile[] => [{ path: HAPROXY_CONFIG_PATH, contents: renderHaproxyConfig(spec, context) }],
};

/** The stats frontend's address: balancer.admin when it is on loopback, else loopback on its port (no token there). */
function statsBind(spec: Spec): { host: string; port: number; moved: boolean } {
  const admin = spec.balancer.admin;
  const onLoopback = isLoopback(admin.host) && admin.host !== 'localhost';
  return { host: onLoopback ? admin.host : '127.0.0.1', port: admin.port, moved: !onLoopback };
}

/**
 * Where keepalived asks whether this HAProxy can serve (render keepalived): the stats frontend's monitor-uri,
 * which answers 200 while the main listener's backend has a server up and 503 when it has none. A TCP connect
 * to a frontend would succeed with nothing behind it: HAProxy accepts and closes.
 */
export function monitor(spec: Spec): { host: string; port: number; path: string; backend: string } {
  const { host, port } = statsBind(spec);
  return { host, port, path: '/ready', backend: mainListener(spec).name };
}

export function renderHaproxyConfig(spec: Spec, context: RenderContext): string {
  const refusals = new Refusals('haproxy');
  refuseUnreadableKeys(spec, refusals);
  refusals.throwIfAny();
  const out: string[] = [header(context, '#').trimEnd()];
  out.push(
    '#',
    '# Install as /etc/haproxy/haproxy.cfg on every LB host, then:',
    '#   haproxy -c -f /etc/haproxy/haproxy.cfg && systemctl reload haproxy',
    '# Written for HAProxy 2.6 (Debian 12) and later.',
    '',
  );
  out.push(...globalSection(spec), '', ...defaultsSection(spec));
  for (const listener of spec.listeners) out.push('', ...listenerSections(spec, listener));
  out.push('', ...statsSection(spec));
  return out.join('\n') + '\n';
}

function globalSection(spec: Spec): string[] {
  const drain = spec.deregistrationDelayMs;
  return [
    'global',
    '    log /dev/log local0',
    '    chroot /var/lib/haproxy',
    '    user haproxy',
    '    group haproxy',
    '    # Runtime API: drain, maint and "show stat" (see docs/render/haproxy.md).',
    '    stats socket /run/haproxy/admin.sock mode 660 level admin expose-fd listeners',
    '    stats timeout 30s',
    '    # No global maxconn: HAProxy derives it from the open-file limit (a fixed value above that limit',
    '    # stops it from starting). Each frontend caps itself at balancer.maxConnections.',
    `    # deregistrationDelay ${haproxyTime(drain)}: HAProxy has no per-server deregistration delay. After a reload`,
    '    # the old process keeps its established connections (to removed servers too) at most this long.',
    ...(drain === 0 ? ['    # The spec says 0 (close at once); HAProxy reads 0 as "never", so 1ms.'] : []),
    `    hard-stop-after ${haproxyTime(Math.max(drain, 1))}`,
  ];
}

function defaultsSection(spec: Spec): string[] {
  const b = spec.balancer;
  const idle = haproxyTime(b.idleTimeoutMs);
  return [
    'defaults',
    '    mode tcp',
    '    log global',
    '    option tcplog',
    '    option dontlognull',
    `    # balancer.retries ${b.retries}: a failed connect is retried on another server than the one that failed, as`,
    '    # serve does. HAProxy does so for roundrobin and leastconn by itself; for balance source it takes',
    '    # "redispatch 1" (plain "option redispatch" moves only the last retry) and hash-type consistent (below).',
    '    # HAProxy in TCP mode never replays client bytes (balancer.replay is `serve` only).',
    '    option redispatch 1',
    `    retries ${b.retries}`,
    `    timeout connect ${haproxyTime(b.connectTimeoutMs)}`,
    `    # balancer.idleTimeout ${idle}: kubectl logs -f, exec and watches sit idle for minutes.`,
    `    timeout client ${idle}`,
    `    timeout server ${idle}`,
    `    timeout tunnel ${idle}`,
  ];
}

function listenerSections(spec: Spec, listener: Listener): string[] {
  const check = listener.healthCheck;
  const lines = [
    `# listener ${listener.name}: port ${listener.port} -> ${listener.targets} port ${listener.targetPort}, ${describeCheck(check)}`,
    `frontend ${listener.name}`,
    ...bindLines(spec, listener.port).map((b) => `    ${b}`),
    `    maxconn ${spec.balancer.maxConnections}`,
    `    default_backend ${listener.name}`,
    '',
    `backend ${listener.name}`,
    '    # Explicit, so every HAProxy version balances alike (the default is not the same in all of them).',
    `    balance ${listener.balance}`,
    ...(listener.balance === 'source' ? [
      '    # A map-based hash has no "other server": a retry would pick the dead one again. A consistent hash can',
      '    # avoid it, and moves fewer clients when a node joins or leaves.',
      '    hash-type consistent',
    ] : []),
    ...checkRules(spec, listener).map((r) => `    ${r}`),
    `    timeout check ${haproxyTime(check.timeoutMs)}`,
    ...identityNote(listener).map((l) => `    ${l}`),
    `    default-server ${serverCheckOptions(spec, check).join(' ')}`,
  ];
  for (const server of listener.servers) {
    lines.push(`    server ${server.name} ${joinHostPort(server.address, server.port)} weight ${server.weight}${checkSni(check, server.address)}`);
  }
  if (spec.balancer.whenAllDown === 'fail-open' && listener.servers.length > 0) {
    lines.push(
      '    # balancer.whenAllDown fail-open: when no server passes its check, use every node anyway, as an',
      '    # AWS NLB does; a node that refuses the connect is retried elsewhere (retries, redispatch).',
      '    option allbackups',
    );
    for (const server of listener.servers) {
      lines.push(`    server ${server.name}-fail-open ${joinHostPort(server.address, server.port)} backup no-check weight ${server.weight}`);
    }
  }
  return lines;
}

function bindLines(spec: Spec, port: number): string[] {
  const bind = spec.balancer.bind;
  if (bind === '0.0.0.0') return [`bind :${port}`];
  if (bind === '::') return [`bind :::${port} v4v6`];
  if (isLoopback(bind)) return [`bind ${joinHostPort(bind, port)}`];
  // A specific address: the VIP is on one host only, so bind it even where it is absent (transparent),
  // and bind loopback too so the frontend answers on every host (local clients, a check by hand).
  const transparent = spec.vip && sameHost(bind, spec.vip.address) ? ' transparent' : '';
  return [`bind ${joinHostPort(bind, port)}${transparent}`, `bind 127.0.0.1:${port}`];
}

/**
 * A TLS check of a server given by name sends the name (SNI) and, with caFile, HAProxy verifies the certificate
 * against it, as serve does. An address is never sent: HAProxy would then match it against DNS names only.
 */
function checkSni(check: HealthCheck, address: string): string {
  return check.type !== 'tcp' && addressKind(address) === 'dns' ? ` check-sni ${address}` : '';
}

/** What caFile proves in HAProxy when servers are IP addresses: less than in serve, and the file says so. */
function identityNote(listener: Listener): string[] {
  const check = listener.healthCheck;
  if (check.type === 'tcp' || !check.caFile || !listener.servers.some((s) => addressKind(s.address) !== 'dns')) return [];
  return [
    '# caFile: the check accepts a certificate that chains to this CA, but HAProxy cannot match an IP address',
    '# against its IP SANs (it compares DNS names only, haproxy/haproxy#3249), so any certificate of the cluster CA',
    '# passes, not only this node\'s. serve checks both (docs/render/haproxy.md). A server given by DNS name gets',
    '# check-sni and is verified by that name.',
  ];
}

function describeCheck(check: HealthCheck): string {
  const kind = check.type === 'https' ? `https GET ${check.path}` : check.type;
  return `check ${kind} every ${haproxyTime(check.intervalMs)}`;
}

/** The check itself. tcp and tls need no rules: `check` connects, `check-ssl` adds the handshake. */
function checkRules(spec: Spec, listener: Listener): string[] {
  const check = listener.healthCheck;
  if (check.type !== 'https') return [];
  const host = isIP(spec.endpoint) === 6 ? `[${spec.endpoint}]` : spec.endpoint;
  const statuses = check.expectStatuses;
  const expect = statuses.length === 1 ? `status ${statuses[0]}` : `rstatus ^(${statuses.join('|')})$`;
  // "connect ssl" ignores the servers' check-sni (measured): with named servers, "connect default" takes
  // the servers' own check settings (check-ssl, check-sni, verify), so each name is sent and verified.
  const named = listener.servers.some((s) => addressKind(s.address) === 'dns');
  return [
    '# Never add option ssl-hello-chk here: the last check option wins and it would silently replace this check.',
    'option httpchk',
    ...(named ? ['# default: the servers\' check-ssl and check-sni (connect ssl would send no name and verify none).', 'http-check connect default'] : ['http-check connect ssl']),
    `http-check send meth GET uri ${check.path} ver HTTP/1.1 hdr Host ${host}`,
    `http-check expect ${expect}`,
  ];
}

function serverCheckOptions(spec: Spec, check: HealthCheck): string[] {
  const options = [
    'check',
    `inter ${haproxyTime(check.intervalMs)}`,
    `fastinter ${haproxyTime(check.fastIntervalMs)}`,
    `rise ${check.healthyThreshold}`,
    `fall ${check.unhealthyThreshold}`,
  ];
  if (check.type !== 'tcp') {
    options.push('check-ssl');
    options.push(...(check.caFile ? ['verify required', `ca-file ${check.caFile}`] : ['verify none']));
    if (check.clientCertificate) options.push(`crt ${check.clientCertificate.certFile}`);
  }
  if (spec.balancer.onMarkedDown === 'close') options.push('on-marked-down shutdown-sessions');
  return options;
}

/**
 * HAProxy 2.6 reads a client certificate's key from the certificate file itself or from
 * "<certFile>.key" (ssl-load-extra-files); a key anywhere else cannot be named.
 */
function refuseUnreadableKeys(spec: Spec, refusals: Refusals<'haproxy'>): void {
  const seen = new Set<string>();
  spec.listeners.forEach((listener, index) => {
    const cert = listener.healthCheck.clientCertificate;
    if (listener.healthCheck.type === 'tcp' || !cert || cert.keyFile === cert.certFile || cert.keyFile === `${cert.certFile}.key`) return;
    const at = `${checkPath(spec, index)}.clientCertificate.keyFile`;
    if (seen.has(at)) return;
    seen.add(at);
    refusals.addAt(at, `HAProxy cannot read the key ${cert.keyFile} separately from ${cert.certFile}`, `HAProxy 2.6 takes the key from the certificate file or from ${cert.certFile}.key: concatenate them (cat cert key > check-client.pem) and set certFile and keyFile to that file, or name the key ${cert.certFile}.key`);
  });
}

function statsSection(spec: Spec): string[] {
  const stats = statsBind(spec);
  const bind = joinHostPort(stats.host, stats.port);
  const live = monitor(spec);
  const servers = mainListener(spec).servers;
  return [
    `# Stats page and Prometheus metrics (balancer.admin${stats.moved ? `, moved to loopback: HAProxy's stats page has no bearer token` : ''}).`,
    '# curl http://' + bind + '/metrics, or open http://' + bind + '/ through an SSH tunnel.',
    'frontend stats',
    '    mode http',
    `    bind ${bind}`,
    '    maxconn ' + STATS_MAXCONN,
    '    timeout client 30s',
    `    # keepalived's check (render keepalived): ${live.path} answers 200 while backend ${live.backend} has a server up, 503`,
    '    # when it has none, so an LB host cut off from the control plane gives up the VIP. Not nbsrv(): it counts',
    '    # the fail-open backup servers, which are never checked. ACL lines of one name are ORed.',
    `    monitor-uri ${live.path}`,
    ...servers.map((s) => `    acl ${live.backend}_live srv_is_up(${live.backend}/${s.name})`),
    `    monitor fail unless ${live.backend}_live`,
    '    http-request use-service prometheus-exporter if { path /metrics }',
    '    stats enable',
    '    stats uri /',
    '    stats refresh 10s',
  ];
}
