// Which spec fields each render target expresses, which values of them it refuses, and which it leaves out on
// purpose — one table, read by the renderers (a refusal can only name a field the table says the target refuses),
// by the docs (docs/render/fields.md is generated from it) and by the tests (no field is dropped without a word).
// A field a target does not list is not that target's business (aws.vpcId means nothing to HAProxy).
import type { TSchema } from '@sinclair/typebox';
import { EndpointSpecSchema } from '../spec/schema.js';
import { listenerOf } from '../spec/listener-role.js';
import type { BgpPeer, HealthCheck, Listener, Spec } from '../spec/types.js';
import { descriptorLimit, MIN_DESCRIPTOR_LIMIT } from './builtin/systemd.js';

export interface FieldUse {
  /** Where the value goes in the target's files. */
  expresses?: string;
  /**
   * Only for specs where this holds (an https check's Host header needs an https check). Default: always. `at` is
   * the field's place in the spec (listeners[2].healthCheck.path), for a field of a list entry.
   */
  when?: (spec: Spec, at: string) => boolean;
  /** The values the engine cannot express: render fails naming the field, never rounds or drops it. */
  refuses?: string;
  /** Why the target leaves the field out although a reader might expect it there. */
  ignores?: string;
}

type Uses = Record<string, FieldUse>;

/** The fields of a health check; each exists at the top (healthCheck.X) and per listener (listeners[].healthCheck.X). */
export const CHECK_FIELDS = [
  'type', 'interval', 'fastInterval', 'timeout', 'healthyThreshold', 'unhealthyThreshold', 'path', 'expectStatuses',
  'clientCertificate.certFile', 'clientCertificate.keyFile', 'caFile',
] as const;
type CheckField = (typeof CHECK_FIELDS)[number];

/** A health-check field's use; `applies` says for which checks the target reads it (a path: https checks only). */
type CheckUse = Omit<FieldUse, 'when'> & { applies?: (check: HealthCheck) => boolean };

/** The listener a place names (listeners[2].healthCheck.path → listeners[2]). */
const listenerAt = (spec: Spec, at: string): Listener | undefined => spec.listeners[Number(/^listeners\[(\d+)\]/.exec(at)?.[1] ?? -1)];

/**
 * A health-check field's use, for the spec's healthCheck and for every listener's own. A listener's field counts
 * where its check is one the target reads it for; the spec's, where a listener has no check of its own (a value
 * every listener overrides reaches no target; one a listener's own check inherits counts there too, but the
 * normalized spec does not say which values a listener's check wrote).
 */
function checks<T extends Partial<Record<CheckField, CheckUse>>>(uses: T): { [K in keyof T & string as `healthCheck.${K}` | `listeners[].healthCheck.${K}`]: Omit<T[K], 'applies'> } {
  const out: Uses = {};
  for (const [key, { applies = () => true, ...use }] of Object.entries(uses) as Array<[string, CheckUse]>) {
    if (!use.expresses) {
      out[`healthCheck.${key}`] = use;
      out[`listeners[].healthCheck.${key}`] = use;
      continue;
    }
    out[`healthCheck.${key}`] = { ...use, when: (spec) => spec.listeners.some((l) => l.healthCheck === spec.healthCheck && applies(l.healthCheck)) };
    out[`listeners[].healthCheck.${key}`] = { ...use, when: (spec, at) => { const l = listenerAt(spec, at); return l !== undefined && applies(l.healthCheck); } };
  }
  return out as never;
}

/** A node field's use, for control-plane nodes and workers alike; each group counts only where a listener targets it. */
function nodes<T extends Uses>(uses: T): { [K in keyof T & string as `controlPlane[].${K}` | `workers[].${K}`]: T[K] } {
  const out: Uses = {};
  for (const [key, use] of Object.entries(uses)) {
    for (const group of ['controlPlane', 'workers'] as const) {
      const targeted = (spec: Spec) => spec.listeners.some((l) => l.targets === group);
      out[`${group}[].${key}`] = use.expresses ? { ...use, when: (spec, at) => targeted(spec) && (use.when?.(spec, at) ?? true) } : use;
    }
  }
  return out as never;
}

const https = (check: HealthCheck) => check.type === 'https';
const tlsOrHttps = (check: HealthCheck) => check.type !== 'tcp';

/** A BGP peer's fields, for bgp.peers[] and a host's own (bgp.hosts[].peers[]). */
function birdPeers<P extends string>(prefix: P) {
  return {
    [`${prefix}.name`]: { expresses: 'protocol names' },
    [`${prefix}.address`]: { expresses: 'neighbor (and interface for a link-local router)' },
    [`${prefix}.asn`]: { expresses: 'neighbor as' },
    [`${prefix}.port`]: { expresses: 'neighbor port' },
    [`${prefix}.passwordFile`]: { refuses: 'any: render bird does not read or copy secrets into files you copy (serve reads the file on the host)' },
    [`${prefix}.multihop`]: { expresses: 'multihop (without it: direct, also for iBGP)' },
    [`${prefix}.sourceAddress`]: { expresses: 'source address, strict bind (and strict bind in protocol bfd)' },
    [`${prefix}.bfd`]: { expresses: 'bfd on / off for the session' },
    [`${prefix}.bfdInterval`]: { expresses: 'the session\'s bfd { interval }', when: (spec: Spec, at: string) => peerAt(spec, at)?.bfd === true },
    [`${prefix}.bfdMultiplier`]: { expresses: 'the session\'s bfd { multiplier }', when: (spec: Spec, at: string) => peerAt(spec, at)?.bfd === true },
  } as { [K in `${P}.${'name' | 'address' | 'asn' | 'port' | 'passwordFile' | 'multihop' | 'sourceAddress' | 'bfd' | 'bfdInterval' | 'bfdMultiplier'}`]: K extends `${P}.passwordFile` ? { refuses: string } : { expresses: string } };
}

/** The BGP session a place names (bgp.peers[1].x, bgp.hosts[0].peers[2].x). */
const peerAt = (spec: Spec, at: string): BgpPeer | undefined => {
  const host = /^bgp\.hosts\[(\d+)\]\.peers\[(\d+)\]/.exec(at);
  if (host) return spec.bgp?.hosts[Number(host[1])]?.peers[Number(host[2])];
  const shared = /^bgp\.peers\[(\d+)\]/.exec(at);
  return shared ? spec.bgp?.peers[Number(shared[1])] : undefined;
};
/** Every BGP session of the fleet: the shared peers and each host's own. */
const sessions = (spec: Spec): BgpPeer[] => [...(spec.bgp?.peers ?? []), ...(spec.bgp?.hosts.flatMap((h) => h.peers) ?? [])];
/** A VIP the control-plane nodes hold (no LB hosts): the only layout in which render talos writes their network. */
const talosVip = (spec: Spec) => spec.vip !== undefined && spec.vip.peers.length === 0;
/** talos.deviceSelector with at least one key. */
const hasSelector = (spec: Spec) => Object.values(spec.talos.deviceSelector ?? {}).some((v) => v !== undefined);
const anyCheck = (spec: Spec, type: string) => spec.listeners.some((l) => l.healthCheck.type === type);

const SERVE_ONLY = 'the built-in balancer\'s (serve) own setting';

export const FIELD_USES = {
  aws: {
    aws: { refuses: 'absent: the NLB needs aws.vpcId and aws.subnetIds' },
    'cluster.environment': { expresses: 'environment, the prefix of every resource name', refuses: 'more than 15 characters (AWS names are at most 32, the longest is <environment>-talos-wk-apid-tg)' },
    endpoint: { ignores: 'the NLB gets its own DNS name (output nlb_dns_name); render dns points dns.name at it' },
    ...nodes({
      name: { expresses: 'control_plane_targets / worker_targets keys' },
      address: { expresses: 'control_plane_targets / worker_targets values (target_type ip)', refuses: 'anything but an IPv4 address' },
      weight: { refuses: 'weights that differ between the nodes of a listener, and 0: an NLB spreads flows evenly and has no per-target weight' },
      ports: { refuses: 'any override: a target group registers every node on the listener\'s targetPort' },
    }),
    'listeners[].name': { expresses: 'the listener\'s role, i.e. its target group (kubernetes, talos, talos-workers)', refuses: 'a listener of no role in the layout, or a second listener of a role' },
    'listeners[].port': { expresses: 'aws_lb_listener port and the security group\'s ingress' },
    'listeners[].targetPort': { expresses: 'target group and attachment port, the security group\'s egress' },
    'listeners[].targets': { expresses: 'which nodes are attached (control_plane_targets or worker_targets)' },
    'listeners[].balance': { expresses: 'source: stickiness type source_ip; roundrobin: none (the NLB hashes each flow to a target)', refuses: 'leastconn: an NLB has no least-connections algorithm' },
    'balancer.balance': { expresses: 'as listeners[].balance, for listeners that set none', refuses: 'leastconn' },
    'listeners[].replay': { ignores: 'an NLB forwards packets; it never replays client bytes' },
    'balancer.replay': { ignores: 'an NLB forwards packets; it never replays client bytes' },
    ...checks({
      type: { expresses: 'health_check.protocol: tcp → TCP, https → HTTPS', refuses: 'tls: an NLB has no TLS-handshake check' },
      interval: { expresses: 'health_check_interval', refuses: 'not whole seconds, outside 5–300 s, or different between listeners' },
      fastInterval: { ignores: 'an NLB has no faster re-check while a target changes state' },
      timeout: { expresses: 'health_check_timeout', refuses: 'not whole seconds, outside 2–120 s, or different between listeners' },
      healthyThreshold: { expresses: 'healthy_threshold', refuses: 'outside 2–10, or different between listeners' },
      unhealthyThreshold: { expresses: 'unhealthy_threshold', refuses: 'outside 2–10, or different between listeners' },
      path: { expresses: 'health_check.path', applies: https },
      expectStatuses: { expresses: 'health_check.matcher', applies: https, refuses: 'statuses outside 200–599' },
      'clientCertificate.certFile': { refuses: 'any: an NLB health check cannot present a client certificate' },
      'clientCertificate.keyFile': { refuses: 'any: an NLB health check cannot present a client certificate' },
      caFile: { ignores: 'an NLB does not verify a target\'s certificate' },
    }),
    deregistrationDelay: { expresses: 'deregistration_delay', refuses: 'not whole seconds, or above 3600 s' },
    'balancer.idleTimeout': { expresses: 'tcp_idle_timeout_seconds of every listener', refuses: 'not whole seconds, or outside 60–6000 s' },
    'balancer.onMarkedDown': { expresses: 'unhealthy_connection_termination (close → true)' },
    'balancer.whenAllDown': { expresses: 'fail-open: what an NLB always does (every target gets traffic when none is healthy)', refuses: 'reject: an NLB always fails open' },
    'balancer.connectTimeout': { ignores: 'an NLB has no connect timeout: the client\'s own SYN goes to the target' },
    'balancer.retries': { ignores: 'an NLB does not retry: the client\'s own SYN goes to one target' },
    'balancer.maxConnections': { ignores: 'an NLB has no per-listener connection limit' },
    'aws.internal': { expresses: 'nlb_internal' },
    'aws.deletionProtection': { expresses: 'enable_deletion_protection' },
    'aws.crossZone': { expresses: 'enable_cross_zone_load_balancing' },
    'aws.preserveClientIp': { expresses: 'preserve_client_ip' },
    'aws.allowedAdminCidrs': { expresses: 'allowed_admin_cidrs (security group ingress)', refuses: 'an entry that is not a CIDR block' },
    'aws.vpcId': { expresses: 'vpc_id (an id in aws.tfvars, an expression in the module call)', refuses: 'absent' },
    'aws.subnetIds': { expresses: 'subnet_ids (ids in aws.tfvars, expressions in the module call)', refuses: 'absent or empty' },
    'aws.region': { expresses: 'a plan-time check that the provider (configured in your root module) is in this region' },
  },
  haproxy: {
    endpoint: { expresses: 'the Host header of an https check', when: (spec) => anyCheck(spec, 'https') },
    ...nodes({
      name: { expresses: 'server names' },
      address: { expresses: 'server addresses (and check-sni for a name, with a tls or https check)' },
      weight: { expresses: 'server weight' },
      ports: { expresses: 'the server\'s port for that listener' },
    }),
    'listeners[].name': { expresses: 'frontend and backend names' },
    'listeners[].port': { expresses: 'bind' },
    'listeners[].targetPort': { expresses: 'server ports' },
    'listeners[].targets': { expresses: 'which nodes are servers of the backend' },
    'listeners[].balance': { expresses: 'balance' },
    'balancer.balance': { expresses: 'balance, for listeners that set none' },
    'listeners[].replay': { ignores: 'HAProxy in TCP mode never replays client bytes; only failed connects are retried' },
    ...checks({
      type: { expresses: 'tcp: check; tls: check-ssl; https: option httpchk, http-check connect ssl / send / expect' },
      interval: { expresses: 'inter' },
      fastInterval: { expresses: 'fastinter' },
      timeout: { expresses: 'timeout check' },
      healthyThreshold: { expresses: 'rise' },
      unhealthyThreshold: { expresses: 'fall' },
      path: { expresses: 'http-check send uri', applies: https },
      expectStatuses: { expresses: 'http-check expect status / rstatus', applies: https },
      'clientCertificate.certFile': { expresses: 'crt', applies: tlsOrHttps },
      'clientCertificate.keyFile': { refuses: 'a key other than certFile itself or <certFile>.key (HAProxy 2.6 cannot name it)' },
      caFile: { expresses: 'verify required ca-file (the chain; HAProxy cannot match an IP address against IP SANs, see docs/render/haproxy.md)', applies: tlsOrHttps },
    }),
    deregistrationDelay: { expresses: 'hard-stop-after (old processes after a reload)' },
    'balancer.bind': { expresses: 'bind addresses' },
    'balancer.admin': { expresses: 'the stats frontend\'s port (on loopback) and its /healthz monitor' },
    'balancer.adminToken': { ignores: 'HAProxy\'s stats page has no bearer token; it stays on loopback' },
    'balancer.connectTimeout': { expresses: 'timeout connect' },
    'balancer.idleTimeout': { expresses: 'timeout client, server and tunnel' },
    'balancer.retries': { expresses: 'retries, with option redispatch 1' },
    'balancer.replay': { ignores: 'HAProxy in TCP mode never replays client bytes' },
    'balancer.replayBufferSize': { ignores: 'HAProxy in TCP mode never replays client bytes' },
    'balancer.firstByteTimeout': { ignores: 'HAProxy has no first-byte timeout in TCP mode (timeout server covers a silent server)' },
    'balancer.onMarkedDown': { expresses: 'close: on-marked-down shutdown-sessions' },
    'balancer.whenAllDown': { expresses: 'fail-open: every node again as a backup no-check server, option allbackups' },
    'balancer.maxConnections': { expresses: 'maxconn of every listener frontend' },
    'balancer.mode': { ignores: 'the built-in balancer\'s data plane; HAProxy is the proxy' },
    'vip.address': { expresses: 'transparent on the bind of the VIP', when: (spec) => spec.vip !== undefined && spec.balancer.bind === spec.vip.address },
  },
  keepalived: {
    vip: { refuses: 'absent: keepalived needs the floating address and the LB hosts' },
    'vip.peers': { expresses: 'one file per peer', refuses: 'empty: keepalived needs the LB hosts' },
    'cluster.name': { expresses: 'the vrrp_instance name' },
    'vip.address': { expresses: 'virtual_ipaddress' },
    'vip.prefixLength': { expresses: 'virtual_ipaddress prefix' },
    'vip.interface': { expresses: 'interface and virtual_ipaddress dev (of peers without their own)', when: (spec) => spec.vip?.peers.some((p) => p.interface === undefined) ?? false },
    'vip.virtualRouterId': { expresses: 'virtual_router_id' },
    'vip.advertInterval': { expresses: 'advert_int (and version 3 when not whole seconds)', refuses: 'outside 1–255 s (VRRPv2) or not 10 ms steps up to 40.95 s (VRRPv3)' },
    'vip.preempt': { expresses: 'false: nopreempt, every host BACKUP' },
    'vip.authKey': { expresses: 'authentication PASS (first 8 characters)', refuses: 'with VRRPv3 (IPv6 or sub-second adverts), or a space, quote, # or ! in the first 8 characters' },
    'vip.unicast': { expresses: 'unicast_src_ip and unicast_peer' },
    'vip.peers[].name': { expresses: 'one file per peer, router_id' },
    'vip.peers[].address': { expresses: 'unicast_src_ip / unicast_peer', refuses: 'a name with unicast (VRRP needs addresses)' },
    'vip.peers[].priority': { expresses: 'priority; the highest is MASTER when preempting' },
    'vip.peers[].interface': { expresses: 'interface and virtual_ipaddress dev in that peer\'s file' },
    'vip.sync.flows': { ignores: 'conntrackd sync belongs to serve\'s kernel data plane' },
    'balancer.admin': { expresses: 'where the check asks HAProxy whether a server is up (its /healthz monitor)' },
  },
  dns: {
    dns: { refuses: 'absent: the records need a name' },
    'dns.name': { expresses: 'the record owner', refuses: 'a name other than the endpoint (clients would not use it)' },
    'dns.ttl': { expresses: 'the record TTL (the CNAME\'s with an NLB)' },
    endpoint: { refuses: 'a name other than dns.name' },
    'controlPlane[].address': { expresses: 'one A / AAAA record per node (no VIP, no NLB)', when: (spec) => !spec.vip && !spec.aws, refuses: 'a name (round robin needs addresses)' },
    'controlPlane[].ports': { refuses: 'any override with node records: records carry no ports' },
    'vip.address': { expresses: 'the one A / AAAA record', when: (spec) => spec.vip !== undefined && !spec.aws, refuses: 'together with an aws section: one name, two endpoints' },
    aws: { expresses: 'a Route 53 CNAME to the NLB\'s DNS name (cluster/aws/dns.tf, next to render aws\'s files)' },
  },
  talos: {
    endpoint: { expresses: 'cluster.controlPlane.endpoint and certSANs, in every topology', refuses: 'the address of one of several control-plane nodes (the API would go down with it), or an address other than the VIP with a VIP' },
    'controlPlane[].name': { expresses: 'one patch per node' },
    'controlPlane[].address': { expresses: 'the node\'s address on the VIP\'s link (Talos VIP)', when: talosVip, refuses: 'with a Talos VIP, anything but an IP of the VIP\'s family in its subnet' },
    'controlPlane[].ports': { refuses: 'any override where nothing maps ports (Talos VIP, DNS round robin, one node)' },
    'workers[].name': { expresses: 'one patch per worker: its endpoint' },
    'listeners[].port': { expresses: 'the endpoint URL\'s port (the kubernetes listener)', when: (spec, at) => listenerAt(spec, at) === listenerOf(spec, 'kubernetes'), refuses: 'a port other than targetPort where nothing maps ports (Talos VIP, DNS round robin, one node)' },
    'vip.address': { expresses: 'the Talos VIP (Layer2VIPConfig or interfaces[].vip) without vip.peers; certSANs either way', refuses: 'with a Talos VIP: outside the control-plane subnet, a node\'s or the gateway\'s address, the network or broadcast address' },
    'vip.peers': { expresses: 'an LB pair holds the endpoint: patches with the endpoint and certSANs only' },
    'bgp.addresses': { expresses: 'certSANs (BGP anycast)' },
    'talos.configStyle': { expresses: 'legacy machine.network or >= 1.12 documents (Talos VIP: the other patches carry no network)', when: talosVip },
    'talos.interface': { expresses: 'the link name (Talos VIP; legacy style with a deviceSelector names no link: the selector picks it)', when: (spec) => talosVip(spec) && !(spec.talos.configStyle === 'legacy' && hasSelector(spec)), refuses: 'a VLAN or bond name the spec does not describe (bond0.408 without talos.vlan, bond0 without talos.bond)' },
    'talos.deviceSelector.hardwareAddr': { expresses: 'the link selector', refuses: 'without a Talos VIP (the nodes keep their network)' },
    'talos.deviceSelector.driver': { expresses: 'the link selector', refuses: 'without a Talos VIP (the nodes keep their network)' },
    'talos.deviceSelector.busPath': { expresses: 'the link selector', refuses: 'without a Talos VIP (the nodes keep their network)' },
    'talos.gateway': { expresses: 'the default route', refuses: 'without a Talos VIP (the nodes keep their network), or outside the control-plane subnet' },
    'talos.prefixLength': { expresses: 'the node address prefix (Talos VIP)', when: talosVip, refuses: 'longer than the VIP\'s family allows' },
    'talos.nameservers': { expresses: 'nameservers / ResolverConfig', refuses: 'without a Talos VIP (the nodes keep their network), or not IP addresses' },
    'talos.certSANs': { expresses: 'certSANs' },
    'talos.vlan': { expresses: 'VLANConfig (vlanID, parent) / interfaces[].vlans[] carrying the address, routes and VIP', refuses: 'without a Talos VIP (the nodes keep their network)' },
    'talos.bond.links': { expresses: 'BondConfig links / interfaces[].bond.interfaces', refuses: 'without a Talos VIP (the nodes keep their network)' },
    'talos.bond.mode': { expresses: 'BondConfig bondMode / interfaces[].bond.mode' },
    'staticPod.image': { expresses: 'static-pod.yaml: machine.pods runs serve from this image on every control-plane node, the spec as a machine file' },
  },
  kubeadm: {
    'staticPod.image': { expresses: 'cluster-endpoint-pod.yaml: the static pod\'s image' },
    deregistrationDelay: { expresses: 'terminationGracePeriodSeconds (the delay + 15 s: serve hands the VIP on, then drains)' },
  },
  bird: {
    bgp: { refuses: 'absent: render bird needs the BGP settings' },
    endpoint: { expresses: 'the announced host route (without bgp.addresses)', refuses: 'a name without bgp.addresses: BGP announces an address' },
    'bgp.addresses': { expresses: 'one static protocol per address (endpoint4, endpoint6), both in the health loop' },
    'bgp.localAsn': { expresses: 'local as' },
    'bgp.routerId': { expresses: 'router id (of every host without its own)', when: (spec) => spec.bgp !== undefined && (spec.bgp.hosts.length === 0 || spec.bgp.hosts.some((h) => h.routerId === undefined)) },
    ...birdPeers('bgp.peers[]'),
    'bgp.hosts[].name': { expresses: 'one bird.conf per host (<host>/bird.conf)' },
    'bgp.hosts[].routerId': { expresses: 'that host\'s router id' },
    ...birdPeers('bgp.hosts[].peers[]'),
    'bgp.bfd': { expresses: 'bfd on' },
    'bgp.bfdInterval': { expresses: 'protocol bfd interval (sessions with BFD)', when: (spec) => sessions(spec).some((p) => p.bfd) },
    'bgp.bfdMultiplier': { expresses: 'protocol bfd multiplier (sessions with BFD)', when: (spec) => sessions(spec).some((p) => p.bfd) },
    'bgp.holdTime': { expresses: 'hold time, keepalive time' },
    'bgp.withdrawDelay': { expresses: 'the health loop\'s wait after withdrawing' },
    'bgp.runDirectory': { ignores: 'Debian\'s bird2 unit has its own paths (/etc/bird, /run/bird)' },
  },
  clients: {
    'cluster.name': { expresses: 'the kubectl cluster name' },
    endpoint: { expresses: 'the kubectl server URL' },
    'controlPlane[].address': { expresses: 'talosctl endpoints and node' },
    'controlPlane[].ports': { refuses: 'an override for the talos listener: talosctl endpoints carry no ports' },
  },
  builtin: {
    'vip.peers[].name': { expresses: 'one unit per peer (serve --peer)' },
    'vip.peers[].interface': { expresses: 'the dev ExecStopPost removes the VIP from, in that peer\'s unit', when: (spec) => (spec.vip?.peers.length ?? 0) > 0 },
    'bgp.hosts[].name': { expresses: 'one unit per host (serve --peer)' },
    'vip.address': { expresses: 'ExecStopPost removes the VIP after a crash', when: (spec) => (spec.vip?.peers.length ?? 0) > 0 },
    deregistrationDelay: { expresses: 'TimeoutStopSec (the delay and the VIP handover + 15 s, whole seconds rounded up)' },
    'balancer.maxConnections': { expresses: 'LimitNOFILE (two descriptors per connection and listener, plus 1024)', when: (spec) => descriptorLimit(spec) > MIN_DESCRIPTOR_LIMIT },
  },
  prometheus: {
    'cluster.name': { expresses: 'rule group names, dashboard title' },
  },
} as const satisfies Record<string, Uses>;

export type Target = keyof typeof FIELD_USES;
export type FieldOf<T extends Target> = keyof (typeof FIELD_USES)[T] & string;

/** The fields of a target whose entry says which values it refuses: the only fields its refusals may name. */
export type RefusedField<T extends Target> = {
  [K in FieldOf<T>]: (typeof FIELD_USES)[T][K] extends { refuses: string } ? K : never;
}[FieldOf<T>];

/**
 * The table's field for a concrete spec path: listeners[2].healthCheck.interval → listeners[].healthCheck.interval,
 * aws.allowedAdminCidrs[1] → aws.allowedAdminCidrs (a list of values is one field).
 */
export const fieldOfPath = (path: string): string => path.replace(/\[\d+\]/g, '[]').replace(/\[\]$/, '');

/** Fields only the running balancer reads (no render target has an engine for them). */
export const SERVE_FIELDS: Readonly<Record<string, string>> = {
  'balancer.replay': SERVE_ONLY,
  'listeners[].replay': SERVE_ONLY,
  'balancer.mode': SERVE_ONLY,
  'balancer.preserveClientIp': SERVE_ONLY,
  'balancer.replayBufferSize': SERVE_ONLY,
  'balancer.firstByteTimeout': SERVE_ONLY,
  'balancer.watch': SERVE_ONLY,
  'balancer.adminToken': SERVE_ONLY,
  'vip.sync.flows': SERVE_ONLY,
  'vip.sync.consistentHash': SERVE_ONLY,
  'vip.sync.port': SERVE_ONLY,
  'vip.sync.interface': SERVE_ONLY,
  'bgp.runDirectory': SERVE_ONLY,
  // keepalived speaks VRRP (IP protocol 112): serve's own election has a port, keepalived's has none.
  'vip.port': SERVE_ONLY,
  // The other engines balance over controlPlane as written; probe and doctor report where it drifts from the cluster.
  'discovery.kubernetes.kubeconfig': SERVE_ONLY,
};

/** Every field of the spec, in the schema's order, as the table writes it (listeners[].port; a list of values is one field). */
export function specFields(schema: TSchema = EndpointSpecSchema): string[] {
  const out: string[] = [];
  const walk = (node: TSchema, path: string) => {
    if (node.type === 'object' && node.properties) {
      for (const [key, child] of Object.entries(node.properties as Record<string, TSchema>)) walk(child, path ? `${path}.${key}` : key);
    } else if (node.type === 'array' && (node.items as TSchema | undefined)?.type === 'object') {
      walk(node.items as TSchema, `${path}[]`);
    } else if (path !== '$schema') {
      out.push(path);
    }
  };
  walk(schema, '');
  return out;
}

const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

/**
 * The per-field part of docs/spec.md: for every field, the targets that express it, refuse some of its values or
 * leave it out (the words of each are in docs/render/fields.md). The same table the renderers refuse by and the
 * property test (test/property/fleet.test.ts) mutates.
 */
export function fieldTargetsMarkdown(): string {
  const targets = Object.keys(FIELD_USES) as Target[];
  const use = (target: Target, field: string) => (FIELD_USES[target] as Record<string, FieldUse>)[field];
  const names = (field: string, kind: keyof FieldUse) => targets.filter((t) => use(t, field)?.[kind]).map((t) => `\`${t}\``);
  return [
    '| Field | Expressed by | Refused (some values) by | Left out by |',
    '|---|---|---|---|',
    ...specFields().map((field) => {
      const ignored = [...names(field, 'ignores'), ...(SERVE_FIELDS[field] ? ['only `serve` reads it'] : [])];
      return `| \`${field}\` | ${names(field, 'expresses').join(', ') || '—'} | ${names(field, 'refuses').join(', ') || '—'} | ${ignored.join(', ') || '—'} |`;
    }),
  ].join('\n');
}

/** docs/render/fields.md: per spec field, which targets express it, which refuse which values, and which leave it out. */
export function fieldsMarkdown(): string {
  const targets = Object.keys(FIELD_USES) as Target[];
  const use = (target: Target, field: string) => (FIELD_USES[target] as Record<string, FieldUse>)[field];
  const sections = [...new Set(targets.flatMap((t) => Object.keys(FIELD_USES[t])))].filter((k) => !specFields().includes(k));
  const row = (field: string) => {
    const expressed = targets.filter((t) => use(t, field)?.expresses).map((t) => `\`${t}\`: ${cell(use(t, field)!.expresses!)}`);
    const refused = targets.filter((t) => use(t, field)?.refuses).map((t) => `\`${t}\`: ${cell(use(t, field)!.refuses!)}`);
    const ignored = [...targets.filter((t) => use(t, field)?.ignores).map((t) => `\`${t}\`: ${cell(use(t, field)!.ignores!)}`), ...(SERVE_FIELDS[field] ? [`only \`serve\` reads it`] : [])];
    return `| \`${field}\` | ${expressed.join('<br>') || '—'} | ${refused.join('<br>') || '—'} | ${ignored.join('<br>') || '—'} |`;
  };
  return [
    '# Which target uses which spec field',
    '',
    '<!-- Generated from src/render/fields.ts (fieldsMarkdown); test/unit/render/fields.test.ts checks it. UPDATE_GOLDEN=1 rewrites it. -->',
    '',
    'Every field of `endpoint.yaml` and what each `render` target does with it: **expresses** it (where the value goes),',
    '**refuses** some values of it (render fails naming the field, and lists every such field at once), or **leaves it',
    'out** on purpose (why). A field no target lists is not that target\'s business. The renderers\' refusals come',
    'from the same table, so a refusal always names a field listed here.',
    '',
    '| Field | Expressed by | Refused by (values) | Left out by (why) |',
    '|---|---|---|---|',
    ...specFields().map(row),
    '',
    'Sections a target needs as a whole (`render all` skips the target when the spec has none):',
    '',
    '| Section | Expressed by | Refused by (values) | Left out by (why) |',
    '|---|---|---|---|',
    ...sections.map(row),
    '',
  ].join('\n');
}
