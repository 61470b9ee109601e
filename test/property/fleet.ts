// Random endpoint specs that know the domain, so that most of them are valid: addresses of one family in one
// subnet, unique names and ports, durations in range, and sections that go together (an LB pair's VIP with its
// peers, BGP with an address endpoint, an NLB with IPv4 nodes and whole-second checks). Each spec comes with the
// choices it was built from, so a field can be changed later to another value of the same kind (the mutation pass).
// The PKI paths point at test/fixtures/pki, so that haproxy -c really loads the files a spec names.
import fc from 'fast-check';
import { fileURLToPath } from 'node:url';
import { addressKind } from '../../src/spec/address.js';
import { formatDuration, parseDuration } from '../../src/spec/duration.js';
import type { Raw, Slot } from './paths.js';

export const PKI = fileURLToPath(new URL('../fixtures/pki/', import.meta.url));
const CA_FILES = [`${PKI}ca.crt`, `${PKI}ca-2.crt`];
/** certFile → keyFiles HAProxy can read with it (the file itself, or <certFile>.key). */
const CLIENT_CERTS = [{ certFile: `${PKI}check-a.pem`, keyFile: `${PKI}check-a.pem` }, { certFile: `${PKI}check-b.pem`, keyFile: `${PKI}check-b.pem.key` }];

export const TOPOLOGIES = ['lb', 'talos', 'bgp', 'aws', 'plain'] as const;
/** lb: an LB pair's VIP (haproxy + keepalived or serve); talos: a Talos VIP; bgp: anycast; aws: an NLB; plain: nothing in front. */
export type Topology = (typeof TOPOLOGIES)[number];

/** What a spec was built from: enough to make another value of any of its fields. */
export interface Context {
  topology: Topology;
  family: 4 | 6;
  /** Host n of the fleet's subnet (2–250; 1 is the gateway). */
  host(n: number): string;
  /** Host n of the anycast range (the BGP endpoint's, outside the subnet). */
  anycast(n: number): string;
  /** Host n of the other family's subnet (a dual-stack BGP fleet's routers). */
  otherHost(n: number): string;
  /** Host n of the other family's anycast range. */
  otherAnycast(n: number): string;
  domain: string;
  kernel: boolean;
  /**
   * Keep to what the topology's own targets can express (an NLB's whole-second checks, a Talos VIP's single
   * port, keepalived's key), so that they render and their output gets checked; the rest of the specs also
   * try values a target must refuse.
   */
  strict: boolean;
}

export interface Fleet { raw: Raw; context: Context }

/** Arbitraries made once (building one from a regular expression costs more than drawing from it). */
const made = new Map<string, fc.Arbitrary<unknown>>();
const once = <T>(key: string, make: () => fc.Arbitrary<T>): fc.Arbitrary<T> => {
  if (!made.has(key)) made.set(key, make());
  return made.get(key) as fc.Arbitrary<T>;
};
/** Strings matching a pattern, the arbitrary made once per pattern. */
const matching = (pattern: string) => once(`re:${pattern}`, () => fc.stringMatching(new RegExp(pattern)));

/** Draws values inside fc.gen(), so the whole spec shrinks as one value. */
export class Dice {
  constructor(readonly g: fc.GeneratorValue) {}
  draw<T>(arbitrary: fc.Arbitrary<T>): T { return this.g(() => arbitrary); }
  int(min: number, max: number): number { return this.draw(once(`int:${min}:${max}`, () => fc.integer({ min, max }))); }
  text(pattern: string): string { return this.draw(matching(pattern)); }
  chance(p: number): boolean { return this.int(0, 999) < p * 1000; }
  pick<T>(values: readonly T[]): T { return values[this.int(0, values.length - 1)]; }
  /** Present with probability p: the value, else undefined (the key is left out). */
  maybe<T>(p: number, make: () => T): T | undefined { return this.chance(p) ? make() : undefined; }
}

// ---------------------------------------------------------------------------------------------------------------
// Values of one kind each: the generator builds specs from them and the mutation pass draws another one.

const nameOf = (d: Dice, prefix?: string) => (prefix ? `${prefix}-${d.text('^[a-z0-9]{1,4}$')}` : d.text('^[a-z][a-z0-9]{1,7}$'));
const ms = (d: Dice, min: number, max: number) => d.int(min, max);
/** A duration as people write it: 10s, 1m30s, 250ms, sometimes 1500ms. */
const duration = (d: Dice, minMs: number, maxMs: number, step = 1): string => {
  const value = Math.round(ms(d, Math.ceil(minMs / step), Math.floor(maxMs / step))) * step;
  return d.chance(0.15) ? `${value}ms` : formatDuration(value);
};
const seconds = (d: Dice, min: number, max: number) => duration(d, min * 1000, max * 1000, 1000);
const token = (d: Dice, min: number, max: number) => d.text(`^[A-Za-z0-9._:-]{${min},${max}}$`);
const dnsName = (d: Dice, context: Context, label?: string) => `${label ?? nameOf(d)}.${context.domain}`;

/** A node address: a host of the subnet, now and then a DNS name (not for the kernel data plane, which resolves nothing). */
function nodeAddress(d: Dice, context: Context, used: Set<string>): string {
  const names = context.topology === 'lb' || (!context.strict && context.topology === 'plain');
  if (!context.kernel && names && d.chance(0.08)) return dnsName(d, context, `node-${nameOf(d)}`);
  return freshHost(d, context, used);
}

function freshHost(d: Dice, context: Context, used: Set<string>): string {
  for (;;) {
    const address = context.host(d.int(2, 250));
    if (!used.has(address)) { used.add(address); return address; }
  }
}

const CHECK_PATHS = ['/readyz', '/livez', '/healthz', '/version', '/readyz?verbose'];
const STATUSES = [[200], [200, 401], [204], [200, 204], [401]];
const INTERFACES = ['eth0', 'ens18', 'eno1', 'enp3s0', 'bond0', 'bond0.408', 'eth1.20'];
const REGIONS = ['eu-west-1', 'us-east-1', 'ap-southeast-2', 'eu-central-1'];
const hex = (d: Dice, n: number) => d.text(`^[0-9a-f]{${n}}$`);

/** A health check's fields; `nlb` keeps them within what an NLB can do. */
function healthCheck(d: Dice, nlb: boolean, inherited?: Raw): Raw {
  const check: Raw = {};
  const type = d.maybe(0.7, () => d.pick(nlb ? ['tcp', 'https'] : ['tcp', 'tls', 'https']));
  if (type) check.type = type;
  if (d.chance(0.6)) {
    // interval and timeout together, so the timeout stays below the interval.
    const intervalMs = nlb ? d.int(5, 30) * 1000 : d.pick([d.int(2, 60) * 1000, ms(d, 200, 20_000)]);
    check.interval = d.chance(0.15) ? `${intervalMs}ms` : formatDuration(intervalMs);
    const timeoutMs = nlb ? d.int(2, Math.min(10, intervalMs / 1000 - 1)) * 1000 : ms(d, 10, intervalMs - 1);
    check.timeout = formatDuration(timeoutMs);
    if (d.chance(0.4)) check.fastInterval = duration(d, 100, Math.max(100, intervalMs), 100);
  } else if (!inherited && d.chance(0.3)) {
    check.fastInterval = duration(d, 100, 2000, 100);
  }
  if (d.chance(0.4)) check.healthyThreshold = d.int(nlb ? 2 : 1, 10);
  if (d.chance(0.4)) check.unhealthyThreshold = d.int(nlb ? 2 : 1, 10);
  if (d.chance(0.35)) check.path = d.pick(CHECK_PATHS);
  if (d.chance(0.3)) check.expectStatuses = d.pick(STATUSES);
  const tlsy = type === 'tls' || type === 'https' || (type === undefined && inherited !== undefined && inherited.type !== 'tcp');
  if (tlsy || d.chance(0.1)) {
    if (!nlb && d.chance(0.45)) check.clientCertificate = clientCertificate(d);
    if (d.chance(0.45)) check.caFile = d.pick(CA_FILES);
  }
  return check;
}

function clientCertificate(d: Dice): Raw {
  const pair = d.pick(CLIENT_CERTS);
  // Now and then a key HAProxy cannot name (render haproxy refuses it).
  return { ...pair, ...(d.chance(0.08) ? { keyFile: `${PKI}elsewhere.key` } : {}) };
}

// ---------------------------------------------------------------------------------------------------------------

/** One spec. The topology decides the sections; every optional field is set in a good share of specs. */
export function buildFleet(d: Dice): Fleet {
  // BGP has the most fields (session options, hosts, dual stack): it gets a larger share.
  const topology = d.pick(['lb', 'talos', 'bgp', 'bgp', 'aws', 'plain'] as const);
  const strict = d.chance(0.7);
  const family: 4 | 6 = topology === 'aws' ? (strict ? 4 : d.pick([4, 6] as const)) : topology === 'bgp' ? d.pick([4, 6] as const) : (d.chance(0.7) ? 4 : 6);
  const [a, b] = [d.int(0, 255), d.int(0, 255)];
  // serve as a static pod on the control-plane nodes: the kernel data plane bound to the VIP (its peers are the
  // nodes) or to the BGP endpoint.
  const staticPod = (topology === 'lb' || topology === 'bgp') && d.chance(0.15);
  const kernel = staticPod || (topology !== 'aws' && d.chance(topology === 'lb' ? 0.35 : 0.12));
  const clusterName = d.text('^[a-z][a-z0-9]{1,8}(-[a-z0-9]{1,5})?$');
  const context: Context = {
    topology, family, kernel, strict,
    host: family === 4 ? v4Host(a, b) : v6Host(a, b),
    anycast: family === 4 ? v4Anycast : v6Anycast,
    otherHost: family === 4 ? v6Host(a, b) : v4Host(a, b),
    otherAnycast: family === 4 ? v6Anycast : v4Anycast,
    domain: `${clusterName}.example.${d.pick(['com', 'net', 'lab'])}`,
  };
  const used = new Set<string>();
  const raw: Raw = {};
  const environment = strict ? '^[a-z][a-z0-9-]{0,13}[a-z0-9]$' : '^[a-z][a-z0-9-]{0,18}[a-z0-9]$';
  raw.cluster = { name: clusterName, ...(d.chance(0.5) ? { environment: d.text(environment) } : {}) };

  // Nodes: unique names across both groups.
  const cpCount = topology === 'plain' ? d.pick([1, 1, 2, 3]) : d.int(1, 5);
  const workerCount = d.chance(0.4) ? d.int(1, 3) : 0;
  const names = new Set<string>();
  const nodeName = (prefix: string) => { for (;;) { const n = nameOf(d, prefix); if (!names.has(n)) { names.add(n); return n; } } };
  // An NLB has no per-target weight: equal weights only, unless the spec tries what it must refuse.
  const evenWeights = topology === 'aws' && strict;
  const sameWeight = d.chance(0.2) ? d.int(1, 256) : undefined;
  const node = (prefix: string): Raw => ({
    name: nodeName(prefix),
    address: nodeAddress(d, context, used),
    ...(evenWeights ? (sameWeight !== undefined ? { weight: sameWeight } : {}) : d.chance(0.3) ? { weight: d.int(0, 256) } : {}),
  });
  raw.controlPlane = Array.from({ length: cpCount }, () => node(d.pick(['cp', 'master', 'ctl'])));
  if (workerCount > 0) raw.workers = Array.from({ length: workerCount }, () => node(d.pick(['wk', 'worker'])));

  // The VIP (an LB pair's or the Talos nodes'), or the BGP anycast address, and the endpoint clients use.
  const vipAddress = topology === 'lb' || topology === 'talos' || (topology === 'aws' && d.chance(0.05)) ? freshHost(d, context, used) : undefined;
  const anycast = topology === 'bgp' ? context.anycast(d.int(1, 250)) : undefined;
  // A dual-stack anycast endpoint: the other family's address announced too (bgp.addresses).
  const dualStack = anycast && !staticPod && d.chance(0.25) ? context.otherAnycast(d.int(1, 250)) : undefined;
  const endpointName = dnsName(d, context, d.pick(['api', 'k8s', 'cp']));
  const cp = raw.controlPlane as Raw[];
  // DNS records are for the name clients use: with them, the endpoint is that name.
  const dns = d.chance(topology === 'plain' ? 0.8 : topology === 'bgp' && strict ? 0 : 0.45);
  const named = strict && dns;
  raw.endpoint = anycast
    ?? (vipAddress && !named && d.chance(0.6) ? vipAddress
      : topology === 'plain' && !named && cp.length === 1 && d.chance(0.5) ? cp[0].address
        : topology === 'aws' && !strict && d.chance(0.1) ? context.host(251) : endpointName);

  const listeners = d.chance(0.45) ? makeListeners(d, context, workerCount > 0) : undefined;
  if (listeners) raw.listeners = listeners;
  // Node port overrides name a listener of the node's group (the defaults when listeners are not given).
  const listenerNames = (group: string) => (listeners ?? [
    { name: 'kubernetes', targets: 'controlPlane' }, { name: 'talos', targets: 'controlPlane' },
    ...(workerCount > 0 ? [{ name: 'talos-workers', targets: 'workers' }] : []),
  ]).filter((l) => l.targets === group).map((l) => l.name as string);
  for (const [group, nodes] of [['controlPlane', cp], ['workers', (raw.workers ?? []) as Raw[]]] as const) {
    const own = listenerNames(group);
    for (const n of nodes) {
      // One address per node in front of an NLB, a Talos VIP, DNS records and talosctl: no port of its own there.
      const mine = strict ? own.filter((name) => !/talos|apid/.test(name)) : own;
      if (mine.length > 0 && d.chance(strict && topology !== 'lb' ? 0 : 0.12)) n.ports = { [d.pick(mine)]: d.int(1024, 65535) };
    }
  }

  const nlb = topology === 'aws' && strict;
  const top = d.maybe(0.55, () => healthCheck(d, nlb));
  if (top) raw.healthCheck = top;
  if (listeners) {
    for (const listener of listeners) {
      // An NLB shares one timing among its target groups: a listener's own check keeps the spec's.
      if (nlb) { if (top && d.chance(0.3)) listener.healthCheck = { ...top, type: d.pick(['tcp', 'https']) }; continue; }
      if (d.chance(0.35)) listener.healthCheck = healthCheck(d, false, top ?? {});
    }
  }
  if (d.chance(0.4)) raw.deregistrationDelay = topology === 'aws' || d.chance(0.5) ? seconds(d, 0, 3600) : duration(d, 0, 3_600_000);

  const balancer = makeBalancer(d, context, vipAddress, anycast, dualStack);
  if (balancer) raw.balancer = balancer;
  if (vipAddress) raw.vip = makeVip(d, context, vipAddress, topology === 'lb', used, staticPod ? cp : undefined);
  if (staticPod) {
    // What the nodes run needs: the floating address bound, the key in the spec (it travels to the nodes as is).
    raw.balancer = { ...balancer, mode: 'kernel', bind: vipAddress ?? anycast };
    if (raw.vip) (raw.vip as Raw).authKey ??= token(d, 8, 20);
    raw.staticPod = { image: `registry.example.com/cluster-endpoint:0.${d.int(1, 9)}.${d.int(0, 9)}` };
  }
  if (d.chance(0.12)) raw.discovery = { kubernetes: d.chance(0.6) ? { kubeconfig: `/etc/cluster-endpoint/${d.pick(['kubeconfig', 'discovery.kubeconfig'])}` } : {} };
  if (topology === 'bgp') raw.bgp = makeBgp(d, context, anycast!, dualStack);
  if (topology === 'aws' || (!strict && d.chance(0.1))) raw.aws = makeAws(d, nlb);
  if (d.chance(topology === 'talos' ? 0.9 : 0.45)) raw.talos = makeTalos(d, context, (raw.vip as Raw | undefined)?.interface as string | undefined);
  if (dns) {
    const endpointIsName = addressKind(String(raw.endpoint)) === 'dns';
    raw.dns = {
      name: endpointIsName && (strict || d.chance(0.7)) ? String(raw.endpoint) : d.chance(0.5) ? endpointName : dnsName(d, context),
      ...(d.chance(0.5) ? { ttl: d.pick([d.int(1, 600), d.int(1, 604800)]) } : {}),
    };
  }
  return { raw, context };
}

const hex2 = (n: number) => n.toString(16).padStart(2, '0');
const v4Host = (a: number, b: number) => (n: number) => `10.${a}.${b}.${n}`;
const v6Host = (a: number, b: number) => (n: number) => `fd${hex2(a)}:${b.toString(16)}::${n.toString(16)}`;
const v4Anycast = (n: number) => `192.0.2.${n}`;
const v6Anycast = (n: number) => `2001:db8:ac::${n.toString(16)}`;

const ROLE_LISTENERS = [
  { role: 'kubernetes', port: 6443, targetPort: 6443, targets: 'controlPlane' },
  { role: 'talos', port: 50000, targetPort: 50000, targets: 'controlPlane' },
  { role: 'talos-workers', port: 50001, targetPort: 50000, targets: 'workers' },
] as const;

function makeListeners(d: Dice, context: Context, workers: boolean): Raw[] {
  // An NLB has one target group per role and needs kubernetes and talos; a Talos VIP (or one node, or DNS
  // records) forwards nothing, so the kubernetes listener keeps its port.
  const nlb = context.topology === 'aws' && context.strict;
  const direct = context.strict && (context.topology === 'talos' || context.topology === 'plain');
  const out: Raw[] = [];
  const ports = new Set<number>();
  const names = new Set<string>();
  const port = (wanted: number) => { let p = wanted; while (ports.has(p)) p = d.int(1024, 65535); ports.add(p); return p; };
  for (const role of ROLE_LISTENERS) {
    if (role.targets === 'workers' && !workers) continue;
    if (!(nlb && role.role !== 'talos-workers') && !d.chance(role.role === 'kubernetes' ? 0.9 : 0.7)) continue;
    // Mostly the role's name and ports; sometimes another name (the role then comes from the target port) or port.
    const name = d.chance(0.85) ? role.role : d.pick(['api', 'k8s', 'apid', 'talos-api']);
    if (names.has(name)) continue;
    names.add(name);
    out.push({
      name,
      port: port(d.chance(0.8) || (direct && role.role === 'kubernetes') ? role.port : d.int(1024, 65535)),
      targetPort: name === role.role && !nlb && !direct && d.chance(0.1) ? d.int(1024, 65535) : role.targetPort,
      targets: role.targets,
      ...listenerOptions(d, context),
    });
  }
  if (out.length === 0 || (!nlb && d.chance(0.25))) {
    let name = `${d.pick(['etcd', 'metrics', 'extra', 'ingress'])}-${d.int(1, 99)}`;
    while (names.has(name)) name = `x${name}`;
    out.push({ name, port: port(d.int(1024, 65535)), targetPort: d.int(1, 65535), targets: workers && d.chance(0.3) ? 'workers' : 'controlPlane', ...listenerOptions(d, context) });
  }
  return out;
}

/** Balancing algorithms this spec may use: no leastconn in the kernel (a rule) or, mostly, in front of an NLB. */
const algorithms = (context: Context) => (context.kernel || (context.topology === 'aws' && context.strict) ? ['roundrobin', 'source'] : ['roundrobin', 'leastconn', 'source']);

function listenerOptions(d: Dice, context: Context): Raw {
  return {
    ...(d.chance(0.3) ? { balance: d.pick(algorithms(context)) } : {}),
    ...(d.chance(0.25) ? { replay: d.chance(0.5) } : {}),
  };
}

function makeBalancer(d: Dice, context: Context, vip: string | undefined, anycast: string | undefined, dualStack: string | undefined): Raw | undefined {
  if (!d.chance(0.65) && !context.kernel) return undefined;
  const b: Raw = {};
  if (context.kernel) b.mode = 'kernel';
  else if (d.chance(0.1)) b.mode = 'proxy';
  if (context.kernel && d.chance(0.6)) b.preserveClientIp = d.chance(0.6);
  if (d.chance(0.35)) {
    const any = context.family === 6 ? '::' : '0.0.0.0';
    // With BGP the balancer accepts what is announced: :: (both families), 0.0.0.0 for IPv4, or the one address.
    b.bind = anycast ? d.pick(dualStack ? ['::'] : context.family === 6 ? ['::', anycast] : ['0.0.0.0', '::', anycast]) : d.pick([any, '0.0.0.0', vip ?? context.host(d.int(2, 250)), vip ?? any, context.family === 6 ? '::1' : '127.0.0.1']);
  }
  if (d.chance(0.35)) {
    const port = d.int(1024, 65535);
    const kind = d.int(0, 9);
    if (kind < 6) b.admin = `127.0.0.1:${port}`;
    else if (kind < 8) b.admin = `[::1]:${port}`;
    else { b.admin = `${context.family === 6 ? `[${context.host(d.int(2, 250))}]` : context.host(d.int(2, 250))}:${port}`; b.adminToken = token(d, 16, 40); }
  }
  if (!b.adminToken && d.chance(0.2)) b.adminToken = token(d, 16, 40);
  if (d.chance(0.35)) b.balance = d.pick(algorithms(context));
  if (d.chance(0.3)) b.connectTimeout = duration(d, 10, 300_000);
  const nlb = context.topology === 'aws' && context.strict;
  if (d.chance(0.35)) b.idleTimeout = nlb ? seconds(d, 60, 6000) : duration(d, 1000, 7 * 24 * 3_600_000, 1000);
  if (d.chance(0.3)) b.retries = d.int(0, 10);
  if (d.chance(0.25)) b.replay = d.chance(0.5);
  if (d.chance(0.25)) b.replayBufferSize = d.pick([0, d.int(1, 16_777_216), 4096]);
  if (d.chance(0.25)) b.firstByteTimeout = duration(d, 0, 60_000);
  if (d.chance(0.3)) b.onMarkedDown = d.pick(['close', 'keep']);
  if (d.chance(0.3)) b.whenAllDown = nlb ? 'fail-open' : d.pick(['fail-open', 'reject']);
  if (d.chance(0.3)) b.maxConnections = d.pick([d.int(1, 1000), d.int(1, 500_000)]);
  if (d.chance(0.25)) b.watch = d.chance(0.5);
  return b;
}

function makeVip(d: Dice, context: Context, address: string, lb: boolean, used: Set<string>, nodes?: Raw[]): Raw {
  const vip: Raw = { address };
  if (d.chance(0.4)) vip.prefixLength = context.family === 4 ? d.int(16, 24) : d.int(48, 64);
  if (d.chance(0.45)) vip.interface = d.pick(INTERFACES);
  if (d.chance(0.4)) vip.virtualRouterId = d.int(1, 255);
  if (d.chance(0.45)) {
    const kind = d.int(0, 19);
    vip.advertInterval = kind < 13 ? seconds(d, 1, 5) : kind < 19 || context.strict ? duration(d, 100, 990, 10) : duration(d, 10, 40_950);
  }
  if (d.chance(0.45)) vip.preempt = d.chance(0.4);
  // keepalived: VRRPv3 (IPv6, sub-second adverts) has no authentication, and PASS is one printable word.
  const v3 = context.family === 6 || (vip.advertInterval !== undefined && !/^[0-9]+s$/.test(String(vip.advertInterval)));
  if (d.chance(context.strict && lb && v3 ? 0 : 0.4)) vip.authKey = context.strict || d.chance(0.8) ? token(d, 8, 20) : `${token(d, 3, 3)}${d.pick(['#', '!', ' ', '"'])}${token(d, 4, 10)}`;
  if (d.chance(0.45)) vip.unicast = d.chance(0.4);
  if (d.chance(0.25)) vip.port = d.int(1024, 65535);
  if (lb) {
    const count = nodes ? nodes.length : d.int(1, 3);
    const priorities = d.draw(once(`priorities:${count}`, () => fc.uniqueArray(fc.integer({ min: 1, max: 254 }), { minLength: count, maxLength: count })));
    const names = new Set<string>();
    vip.peers = priorities.map((priority) => {
      let name = nameOf(d, 'lb');
      while (names.has(name)) name = nameOf(d, 'lb');
      names.add(name);
      // On the control-plane nodes (staticPod) the peers are the nodes: each finds itself by its address.
      const address = nodes ? String(nodes[names.size - 1].address) : freshHost(d, context, used);
      return { name, address, priority, ...(d.chance(0.25) ? { interface: d.pick(INTERFACES) } : {}) };
    });
  }
  if (context.kernel && d.chance(0.8)) {
    vip.sync = {
      ...(d.chance(0.8) ? { flows: d.chance(0.25) } : {}),
      ...(d.chance(0.8) ? { consistentHash: d.chance(0.25) } : {}),
      ...(d.chance(0.7) ? { port: d.int(1024, 65535) } : {}),
      ...(d.chance(0.7) ? { interface: d.pick(['sync0', 'eth1', 'ens19']) } : {}),
    };
  }
  return vip;
}

const privateAsn = (d: Dice) => (d.chance(0.8) ? d.int(64512, 65534) : d.int(4_200_000_000, 4_294_967_294));

const routerIdOf = (d: Dice) => `10.${d.int(0, 255)}.${d.int(0, 255)}.${d.int(1, 254)}`;

/**
 * BGP: routers every host peers with and, in a fleet described host by host (bgp.hosts), each host's own (a
 * rack's ToRs) and router id; session options (multihop from a source address, per-session BFD, a link-local
 * router on a named interface, an MD5 password file); now and then a dual-stack endpoint (bgp.addresses), whose
 * every host then has routers of both families. An IPv6-only fleet writes its router ids (auto needs IPv4).
 */
function makeBgp(d: Dice, context: Context, endpoint: string, dualStack: string | undefined): Raw {
  const localAsn = privateAsn(d);
  const bfd = d.maybe(0.45, () => d.chance(0.4));
  const families: Array<4 | 6> = dualStack ? [4, 6] : [context.family];
  const peerList = (count: number, used: Set<string>, names: Set<string>, prefix: string) => {
    const out: Raw[] = [];
    for (let i = 0; i < count; i++) out.push(bgpPeer(d, context, families[i % families.length], localAsn, bfd !== false, used, names, prefix));
    return out;
  };
  const used = new Set<string>([endpoint, ...(dualStack ? [dualStack] : [])]);
  const sharedNames = new Set<string>();
  const hosts = d.chance(0.5) ? d.int(1, 3) : 0;
  // With hosts that list their own routers, bgp.peers may be left out; every host still has some of each family.
  const hostPeers = hosts > 0 && d.chance(0.75);
  const shared = !hostPeers || d.chance(0.6) ? peerList(Math.max(families.length, d.int(1, 3)), used, sharedNames, 'tor') : [];
  const bgp: Raw = { localAsn, ...(shared.length > 0 ? { peers: shared } : {}) };
  if (dualStack) bgp.addresses = d.chance(0.5) ? [endpoint, dualStack] : [dualStack, endpoint];
  const ipv6Only = !dualStack && context.family === 6;
  if (hosts > 0) {
    const hostNames = new Set<string>();
    const ids = new Set<string>();
    bgp.hosts = Array.from({ length: hosts }, () => {
      let name = nameOf(d, 'lb');
      while (hostNames.has(name)) name = nameOf(d, 'lb');
      hostNames.add(name);
      const host: Raw = { name };
      if (ipv6Only || d.chance(0.5)) { let id = routerIdOf(d); while (ids.has(id)) id = routerIdOf(d); ids.add(id); host.routerId = id; }
      // A host's own routers come on top of bgp.peers: names and addresses unique within the host.
      if (hostPeers && (shared.length === 0 || d.chance(0.7))) host.peers = peerList(shared.length === 0 ? Math.max(families.length, d.int(1, 2)) : d.int(1, 2), new Set(used), new Set(sharedNames), 'rack');
      return host;
    });
    if (!ipv6Only && d.chance(0.3)) bgp.routerId = 'auto';
  } else if (ipv6Only || d.chance(0.5)) {
    bgp.routerId = !ipv6Only && d.chance(0.25) ? 'auto' : routerIdOf(d);
  }
  if (bfd !== undefined) bgp.bfd = bfd;
  if (d.chance(0.4)) bgp.bfdInterval = duration(d, 10, 10_000);
  if (d.chance(0.4)) bgp.bfdMultiplier = d.int(1, 255);
  if (d.chance(0.4)) bgp.holdTime = seconds(d, 3, d.pick([30, 600]));
  if (d.chance(0.4)) bgp.withdrawDelay = duration(d, 0, 60_000);
  if (d.chance(0.4)) bgp.runDirectory = `/run/${d.pick(['cluster-endpoint', 'ce'])}-${nameOf(d)}`;
  return bgp;
}

function bgpPeer(d: Dice, context: Context, family: 4 | 6, localAsn: number, bfd: boolean, used: Set<string>, names: Set<string>, prefix: string): Raw {
  let name = nameOf(d, prefix);
  while (names.has(name)) name = nameOf(d, prefix);
  names.add(name);
  const host = family === context.family ? context.host : context.otherHost;
  let address: string;
  do {
    address = family === 6 && d.chance(0.12) ? `fe80::${d.int(1, 255).toString(16)}%${d.pick(['eth0', 'ens1f0', 'bond0'])}` : host(d.int(2, 250));
  } while (used.has(address));
  used.add(address);
  const peer: Raw = { name, address, asn: d.chance(0.2) ? localAsn : privateAsn(d) };
  if (d.chance(0.35)) peer.port = d.pick([179, 1179, d.int(1024, 65535)]);
  const linkLocal = address.startsWith('fe80');
  if (d.chance(0.4)) peer.bfd = d.chance(0.5);
  const sessionBfd = typeof peer.bfd === 'boolean' ? peer.bfd : bfd;
  // A multihop session with BFD needs the address it is sent from; a link-local router is one hop away.
  if (!linkLocal && d.chance(0.25)) peer.multihop = d.int(2, 8);
  if ((peer.multihop !== undefined && sessionBfd) || d.chance(0.15)) peer.sourceAddress = host(d.int(2, 250));
  if (d.chance(0.3)) peer.bfdInterval = duration(d, 10, 10_000);
  if (d.chance(0.3)) peer.bfdMultiplier = d.int(1, 255);
  if (d.chance(context.strict ? 0.08 : 0.3)) peer.passwordFile = `/etc/cluster-endpoint/bgp-${name}.password`;
  return peer;
}

function makeAws(d: Dice, nlb: boolean): Raw {
  const aws: Raw = {};
  for (const key of ['internal', 'deletionProtection', 'crossZone', 'preserveClientIp']) if (d.chance(0.5)) aws[key] = d.chance(0.5);
  if (d.chance(0.4)) aws.allowedAdminCidrs = Array.from({ length: d.int(1, 3) }, () => (!nlb && d.chance(0.1) ? 'not-a-cidr' : `10.${d.int(0, 255)}.0.0/${d.pick([16, 20, 24])}`));
  if (nlb || d.chance(0.8)) aws.vpcId = d.chance(0.8) ? `vpc-0${hex(d, 16)}` : 'module.network.vpc_id';
  if (nlb || d.chance(0.8)) aws.subnetIds = d.chance(0.8) ? Array.from({ length: d.int(1, 3) }, () => `subnet-0${hex(d, 16)}`) : ['module.network.private_subnet_ids[0]', 'module.network.private_subnet_ids[1]'];
  if (d.chance(0.4)) aws.region = d.pick(REGIONS);
  return aws;
}

/**
 * render talos's settings. The nodes' network (link, VLAN, bond, gateway, nameservers) only counts with a Talos VIP;
 * strict specs leave it out elsewhere. The link is the VIP's: a VLAN of a bond (bond0.408) is written as such.
 */
function makeTalos(d: Dice, context: Context, vipInterface: string | undefined): Raw {
  const talos: Raw = {};
  const network = context.topology === 'talos' || !context.strict;
  if (d.chance(0.5)) talos.configStyle = d.pick(['legacy', 'documents']);
  if (d.chance(0.4)) talos.interface = d.pick(['eth0', 'ens18', 'uplink', 'eno1']);
  const vlanOf = /^(.+)\.(\d+)$/.exec(vipInterface ?? '');
  const base = vlanOf?.[1] ?? vipInterface;
  const layout = !network ? 'plain' : context.strict && talos.interface === undefined && base?.startsWith('bond') ? 'bond' : d.pick(['plain', 'plain', 'vlan', 'bond']);
  if (network && (layout === 'vlan' || (context.strict && vlanOf && talos.interface === undefined))) {
    talos.vlan = vlanOf && talos.interface === undefined ? Number(vlanOf[2]) : d.int(1, 4094);
  }
  if (layout === 'bond') {
    if (talos.interface === undefined && !base?.startsWith('bond')) talos.interface = d.pick(['bond0', 'bond1']);
    if (talos.interface !== undefined && !String(talos.interface).startsWith('bond')) talos.interface = 'bond0';
    const links = d.pick([['eth0', 'eth1'], ['ens1f0', 'ens1f1'], ['eno1', 'eno2', 'eno3']]);
    talos.bond = { links: links.slice(0, d.int(1, links.length)), ...(d.chance(0.7) ? { mode: d.pick(['active-backup', '802.3ad', 'balance-xor', 'balance-alb', 'balance-rr']) } : {}) };
  } else if (network && d.chance(0.3)) {
    // A selected link gets an alias, which must not look like a kernel name (render talos refuses eth0 there).
    if (context.strict) talos.interface = d.pick(['uplink', 'lan', 'cluster']);
    const selector: Raw = {};
    if (d.chance(0.6)) selector.hardwareAddr = `52:54:00:${hex(d, 2)}:*`;
    if (d.chance(0.6)) selector.driver = d.pick(['virtio_net', 'e1000', 'mlx5_core']);
    if (d.chance(0.6)) selector.busPath = `0000:00:0${d.int(3, 9)}.0`;
    talos.deviceSelector = selector;
  }
  if (network && d.chance(0.4)) talos.gateway = context.host(1);
  if (d.chance(0.4)) talos.prefixLength = context.family === 4 ? d.int(16, 24) : d.int(48, 64);
  if (network && d.chance(0.3)) talos.nameservers = Array.from({ length: d.int(1, 2) }, () => (context.family === 4 ? `10.${d.int(0, 255)}.0.${d.int(1, 254)}` : `fd53::${d.int(1, 255).toString(16)}`));
  if (d.chance(0.4)) talos.certSANs = Array.from({ length: d.int(1, 3) }, () => dnsName(d, context));
  return talos;
}

/** Specs as one arbitrary (shrinks as one value). */
export const fleetArbitrary: fc.Arbitrary<Fleet> = fc.gen().map((g) => buildFleet(new Dice(g)));

// ---------------------------------------------------------------------------------------------------------------
// Another value for one field: the mutation pass. Keyed by the table's field names (healthCheck fields count for
// the spec's check and every listener's); undefined when this spec has no other value to offer.

export type Mutator = (d: Dice, context: Context, current: unknown, raw: Raw, slot: Slot) => unknown;

const otherOf = <T>(d: Dice, values: readonly T[], current: unknown): T | undefined => {
  const others = values.filter((v) => JSON.stringify(v) !== JSON.stringify(current));
  return others.length > 0 ? d.pick(others) : undefined;
};
const flip: Mutator = (d, _c, current) => (current === undefined ? d.chance(0.5) : !current);
const durationBetween = (minMs: number, maxMs: number): Mutator => (d) => duration(d, minMs, maxMs);

const CHECK_MUTATORS: Record<string, Mutator> = {
  type: (d, _c, current) => otherOf(d, ['tcp', 'tls', 'https'], current ?? 'tcp'),
  // A new interval keeps the timeout below it (the check's own, or the one it inherits).
  interval: (d) => duration(d, 6000, 60_000, 1000),
  fastInterval: durationBetween(100, 5000),
  timeout: (d) => (d.chance(0.5) ? seconds(d, 2, 5) : duration(d, 10, 4000)),
  healthyThreshold: (d, _c, current) => otherOf(d, [2, 3, 4, 5, 10], current ?? 2),
  unhealthyThreshold: (d, _c, current) => otherOf(d, [2, 3, 4, 5, 10], current ?? 2),
  path: (d, _c, current) => otherOf(d, CHECK_PATHS, current ?? '/readyz'),
  expectStatuses: (d, _c, current) => otherOf(d, STATUSES, current ?? [200]),
  'clientCertificate.certFile': (d, _c, current) => otherOf(d, CLIENT_CERTS.map((c) => c.certFile), current),
  'clientCertificate.keyFile': (d, _c, current) => otherOf(d, [...CLIENT_CERTS.map((c) => c.keyFile), `${PKI}elsewhere.key`], current),
  caFile: (d, _c, current) => otherOf(d, CA_FILES, current),
};

const NODE_MUTATORS: Record<string, Mutator> = {
  name: (d) => nameOf(d, 'n'),
  address: (d, context, current) => (/[a-z]{2,}\./.test(String(current)) ? dnsName(d, context, `node-${nameOf(d)}`) : context.host(d.int(2, 250))),
  weight: (d, _c, current) => otherOf(d, [0, 1, 2, 5, 100, 256], current ?? 1),
  ports: (d, _c, current, raw, slot) => {
    const group = slot.parts[0] as string;
    const listeners = (raw.listeners as Raw[] | undefined)?.filter((l) => l.targets === group).map((l) => ({ name: l.name as string, targetPort: l.targetPort as number | undefined }))
      ?? (group === 'workers' ? [{ name: 'talos-workers', targetPort: 50000 }] : [{ name: 'kubernetes', targetPort: 6443 }, { name: 'talos', targetPort: 50000 }]);
    if (listeners.length === 0) return undefined;
    const listener = d.pick(listeners);
    // An override equal to the listener's targetPort (or to the one there) changes nothing any engine could show.
    const taken = new Set([listener.targetPort, (current as Record<string, number> | undefined)?.[listener.name]]);
    let port = d.int(1024, 65535);
    while (taken.has(port)) port = port === 65535 ? 1024 : port + 1;
    return { ...(current as Record<string, number> | undefined), [listener.name]: port };
  },
};

/** A BGP session's fields, for bgp.peers[] and a host's own. */
const BGP_PEER_MUTATORS: Record<string, Mutator> = {
  name: (d) => nameOf(d, 'tor'),
  address: (d, context, current) => (String(current).includes(':') === (context.family === 6) ? context.host(d.int(2, 250)) : context.otherHost(d.int(2, 250))),
  asn: (d) => privateAsn(d),
  port: (d, _c, current) => otherOf(d, [179, 1179, 2179], current ?? 179),
  passwordFile: (d) => `/etc/cluster-endpoint/bgp-${nameOf(d)}.password`,
  multihop: (d, _c, current) => otherOf(d, [2, 3, 8, 255], current),
  sourceAddress: (d, context, current) => (String(current).includes(':') === (context.family === 6) ? context.host(d.int(2, 250)) : context.otherHost(d.int(2, 250))),
  bfd: flip,
  bfdInterval: durationBetween(10, 10_000),
  bfdMultiplier: (d) => d.int(1, 255),
};

export const MUTATORS: Record<string, Mutator> = {
  'cluster.name': (d) => d.text('^[a-z][a-z0-9]{2,10}$'),
  'cluster.environment': (d) => d.text('^[a-z][a-z0-9-]{0,12}[a-z0-9]$'),
  endpoint: (d, context, current) => (/^[0-9.]+$|:/.test(String(current)) ? (context.topology === 'bgp' ? context.anycast(d.int(1, 250)) : context.host(d.int(2, 250))) : dnsName(d, context, nameOf(d))),
  ...Object.fromEntries(Object.entries(NODE_MUTATORS).flatMap(([k, m]) => [[`controlPlane[].${k}`, m], [`workers[].${k}`, m]])),
  'listeners[].name': (d) => d.pick(['kubernetes', 'talos', 'talos-workers', `l-${nameOf(d)}`]),
  'listeners[].port': (d) => d.int(1024, 65535),
  'listeners[].targetPort': (d, _c, current) => otherOf(d, [6443, 50000, d.int(1024, 65535)], current),
  'listeners[].targets': (_d, _c, current) => (current === 'workers' ? 'controlPlane' : 'workers'),
  'listeners[].balance': (d, context, current) => otherOf(d, context.kernel ? ['roundrobin', 'source'] : ['roundrobin', 'leastconn', 'source'], current ?? 'roundrobin'),
  'listeners[].replay': flip,
  ...Object.fromEntries(Object.entries(CHECK_MUTATORS).flatMap(([k, m]) => [[`healthCheck.${k}`, m], [`listeners[].healthCheck.${k}`, m]])),
  // At least a second away from the current value: the builtin unit's TimeoutStopSec and a pod's grace period are
  // whole seconds, rounded up (8ms and 0s both stop within the same second).
  deregistrationDelay: (d, _c, current) => {
    const now = current === undefined ? 30_000 : parseDuration(String(current)) ?? 30_000;
    const other = seconds(d, 0, 600);
    return Math.abs((parseDuration(other) ?? 0) - now) >= 1000 ? other : formatDuration(Math.ceil(now / 1000) * 1000 + 1000);
  },
  'balancer.mode': (_d, _c, current) => (current === 'kernel' ? 'proxy' : 'kernel'),
  'balancer.preserveClientIp': flip,
  'balancer.bind': (d, context, current) => otherOf(d, [context.family === 6 ? '::' : '0.0.0.0', '127.0.0.1', context.host(d.int(2, 250))], current ?? '0.0.0.0'),
  'balancer.admin': (d) => `127.0.0.1:${d.int(1024, 65535)}`,
  'balancer.adminToken': (d) => token(d, 16, 40),
  'balancer.balance': (d, context, current) => otherOf(d, context.kernel ? ['roundrobin', 'source'] : ['roundrobin', 'leastconn', 'source'], current ?? 'roundrobin'),
  'balancer.connectTimeout': durationBetween(10, 300_000),
  'balancer.idleTimeout': (d) => seconds(d, 60, 6000),
  'balancer.retries': (d, _c, current) => otherOf(d, [0, 1, 2, 3, 10], current ?? 2),
  'balancer.replay': flip,
  'balancer.replayBufferSize': (d) => d.int(0, 1_000_000),
  'balancer.firstByteTimeout': durationBetween(0, 60_000),
  'balancer.onMarkedDown': (_d, _c, current) => (current === 'keep' ? 'close' : 'keep'),
  'balancer.whenAllDown': (_d, _c, current) => (current === 'reject' ? 'fail-open' : 'reject'),
  'balancer.maxConnections': (d) => d.int(1, 100_000),
  'balancer.watch': flip,
  'vip.address': (d, context) => context.host(d.int(2, 250)),
  'vip.prefixLength': (d, context, current) => otherOf(d, context.family === 4 ? [16, 20, 22, 24] : [48, 56, 64], current ?? (context.family === 4 ? 24 : 64)),
  'vip.interface': (d, _c, current) => otherOf(d, INTERFACES, current ?? 'eth0'),
  'vip.virtualRouterId': (d) => d.int(1, 255),
  'vip.advertInterval': (d, _c, current) => otherOf(d, ['1s', '2s', '3s', '500ms', '250ms'], current ?? '1s'),
  'vip.preempt': flip,
  'vip.authKey': (d) => token(d, 8, 20),
  'vip.unicast': flip,
  'vip.peers[].name': (d) => nameOf(d, 'lb'),
  'vip.peers[].address': (d, context) => context.host(d.int(2, 250)),
  'vip.peers[].priority': (d) => d.int(1, 254),
  'vip.sync.flows': flip,
  'vip.sync.consistentHash': flip,
  'vip.sync.port': (d) => d.int(1024, 65535),
  'vip.sync.interface': (d, _c, current) => otherOf(d, ['sync0', 'eth1', 'ens19'], current),
  'bgp.localAsn': (d) => privateAsn(d),
  'bgp.routerId': (d, _c, current) => (current === undefined || current === 'auto' ? `10.${d.int(0, 255)}.${d.int(0, 255)}.${d.int(1, 254)}` : d.pick(['auto', `10.9.${d.int(0, 255)}.${d.int(1, 254)}`])),
  ...Object.fromEntries(Object.entries(BGP_PEER_MUTATORS).flatMap(([k, m]) => [[`bgp.peers[].${k}`, m], [`bgp.hosts[].peers[].${k}`, m]])),
  'bgp.hosts[].name': (d) => nameOf(d, 'lb'),
  'bgp.hosts[].routerId': (d) => routerIdOf(d),
  // The endpoint stays announced; the other family's address is a new one (or added: dual stack).
  'bgp.addresses': (d, _context, _current, raw) => [String(raw.endpoint), String(raw.endpoint).includes(':') ? v4Anycast(d.int(1, 250)) : v6Anycast(d.int(1, 250))],
  // Another interface than the one the peer has now (its own, else the VIP's).
  'vip.peers[].interface': (d, _c, current, raw) => otherOf(d, INTERFACES, current ?? (raw.vip as Raw).interface ?? 'eth0'),
  'vip.port': (d) => d.int(1024, 65535),
  'talos.vlan': (d) => d.int(1, 4094),
  'talos.bond.links': (d, _c, current) => otherOf(d, [['eth0', 'eth1'], ['ens1f0', 'ens1f1'], ['eno1']], current),
  'talos.bond.mode': (d, _c, current) => otherOf(d, ['active-backup', '802.3ad', 'balance-xor', 'balance-alb'], current ?? 'active-backup'),
  'staticPod.image': (d) => `registry.example.com/cluster-endpoint:1.${d.int(0, 9)}.${d.int(0, 9)}`,
  'discovery.kubernetes.kubeconfig': (d, _c, current) => otherOf(d, ['/etc/cluster-endpoint/kubeconfig', '/etc/kubernetes/admin.conf'], current),
  'bgp.bfd': flip,
  'bgp.bfdInterval': durationBetween(10, 10_000),
  'bgp.bfdMultiplier': (d) => d.int(1, 255),
  'bgp.holdTime': (d) => seconds(d, 3, 600),
  'bgp.withdrawDelay': durationBetween(0, 60_000),
  'bgp.runDirectory': (d) => `/run/ce-${nameOf(d)}`,
  'aws.internal': flip,
  'aws.deletionProtection': flip,
  'aws.crossZone': flip,
  'aws.preserveClientIp': flip,
  'aws.allowedAdminCidrs': (d) => [`10.${d.int(0, 255)}.0.0/16`],
  'aws.vpcId': (d) => `vpc-0${hex(d, 16)}`,
  'aws.subnetIds': (d) => [`subnet-0${hex(d, 16)}`, `subnet-0${hex(d, 16)}`],
  'aws.region': (d, _c, current) => otherOf(d, REGIONS, current),
  'talos.configStyle': (_d, _c, current) => (current === 'legacy' ? 'documents' : 'legacy'),
  'talos.interface': (d, _c, current) => otherOf(d, ['eth0', 'ens18', 'uplink', 'eno1'], current),
  'talos.deviceSelector.hardwareAddr': (d) => `52:54:00:${hex(d, 2)}:*`,
  'talos.deviceSelector.driver': (d, _c, current) => otherOf(d, ['virtio_net', 'e1000', 'mlx5_core'], current),
  'talos.deviceSelector.busPath': (d) => `0000:00:0${d.int(3, 9)}.0`,
  'talos.gateway': (d, context) => context.host(d.int(2, 250)),
  'talos.prefixLength': (d, context, current) => otherOf(d, context.family === 4 ? [16, 20, 22, 24] : [48, 56, 64], current),
  'talos.nameservers': (d, context) => [context.family === 4 ? `10.${d.int(0, 255)}.0.53` : `fd53::${d.int(1, 255).toString(16)}`],
  'talos.certSANs': (d, context) => [dnsName(d, context)],
  'dns.name': (d, context) => dnsName(d, context),
  'dns.ttl': (d) => d.int(1, 86400),
};
