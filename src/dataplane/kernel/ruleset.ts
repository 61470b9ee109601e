// The kernel data plane's nftables table, as a pure function of the listeners and their membership.
// One table of our own per endpoint (inet: IPv4 and IPv6), applied in one `nft -f` transaction that flushes
// its rules and declares everything again: chains and named counters that stay keep their identity (and
// their counts), the NAT hooks stay registered (so established flows keep their translation), and
// what is gone is deleted in the same transaction. Nothing outside the table is touched, and the table
// touches only its own flows (by their marks), so several serves' tables live side by side on one host.
import { isIP } from 'node:net';
import { fnv1a, mix32 } from '../../hash.js';
import { joinHostPort } from '../../spec/address.js';

export const FAMILY = 'inet';
/** The one table every serve used before a host could hold several: a predecessor, replaced by the serve whose listeners it carries. */
export const LEGACY_TABLE = 'cluster_endpoint';

/**
 * The table of an endpoint, named after its cluster (lower-case letters, digits and '-'; nft names take '_'):
 * stable across restarts and reloads, so a restarted serve, `serve --cleanup` and a peer find it, and distinct
 * for every cluster served from one host.
 */
export function tableName(cluster: string): string {
  return `${LEGACY_TABLE}_${cluster.replace(/-/g, '_')}`;
}

/** Whether a table on the host is one of ours (any endpoint's, or a predecessor's). */
export function isOurTable(name: string): boolean {
  return name === LEGACY_TABLE || name.startsWith(`${LEGACY_TABLE}_`);
}

/** Where a table catches new connections: a port on an address, or on every local address of a family (address undefined). */
export interface Listen {
  family: 4 | 6;
  address?: string;
  port: number;
}

/** The addresses and ports a table with this bind catches: 0.0.0.0 → every local IPv4 address; :: → every local address. */
export function listensOf(bind: string, ports: readonly number[]): Listen[] {
  const families: Array<4 | 6> = bind === '0.0.0.0' ? [4] : bind === '::' ? [4, 6] : [isIP(bind) === 6 ? 6 : 4];
  const any = bind === '0.0.0.0' || bind === '::';
  return [...new Set(ports)].flatMap((port) => families.map((family) => (any ? { family, port } : { family, address: bind, port })));
}

/** The first place two tables would both catch (the same port on a shared address), or undefined. */
export function clashOf(ours: readonly Listen[], theirs: readonly Listen[]): Listen | undefined {
  for (const a of ours) {
    for (const b of theirs) {
      if (a.port === b.port && a.family === b.family && (a.address === undefined || b.address === undefined || a.address === b.address)) return a.address === undefined ? b : a;
    }
  }
  return undefined;
}

/**
 * Conntrack marks of flows we forwarded: MARK_PREFIX | server id (24 bits), plus MARK_ANSWERED once the server
 * answered and MARK_CLOSING once closing. A flow of an older serve (0xceXXXXXX, 0xcfXXXXXX) reads as answered.
 * Server ids are unique on a host (serverIds takes the ids of the other tables there as taken), so a server's
 * mark names one endpoint's server: every table and every conntrack call acts on its own servers' marks only.
 */
export const MARK_PREFIX = 0xcc000000;
/** Every flow of ours. */
export const MARK_MASK = 0xfc000000;
/**
 * Added to a flow's mark by the server's first packet that is not a reset (its SYN-ACK). Until then the flow is
 * unanswered: a reset from the server is dropped (the client's SYN retransmission is balanced again), and a flow
 * that stays unanswered tells that the server does not take connections.
 */
export const MARK_ANSWERED = 0x02000000;
/**
 * Added to a flow's mark when a FIN or RST of it passes. Counting open flows is then a filter on the mark
 * that the kernel applies while listing, instead of listing every flow in TIME_WAIT too (tens of thousands
 * at a high connection rate, a noticeable share of the forwarding CPU each time).
 */
export const MARK_CLOSING = 0x01000000;
/** Open flows of ours: answered, not closing (value MARK_PREFIX | MARK_ANSWERED under this mask). */
export const OPEN_MARK_MASK = (MARK_MASK | MARK_ANSWERED | MARK_CLOSING) >>> 0;
/** Flows of ours that are not closing, answered or not (value MARK_PREFIX under this mask). */
export const LIVE_MARK_MASK = (MARK_MASK | MARK_CLOSING) >>> 0;
/** Unanswered flows of ours, closing or not (value MARK_PREFIX under this mask; one server's: SERVER_MARK_MASK | MARK_ANSWERED). */
export const UNANSWERED_MARK_MASK = (MARK_MASK | MARK_ANSWERED) >>> 0;
/** A server's flows, whatever their state. */
export const SERVER_MARK_MASK = (~(MARK_CLOSING | MARK_ANSWERED)) >>> 0;

export interface KernelServer {
  /** 6 hex digits, stable for listener + address + port (serverIds()). */
  id: string;
  /** Chain-name form of its listener's name (listenerChain()): its bytes count for the listener too. */
  listener: string;
  address: string;
  port: number;
  weight: number;
}

export interface KernelListener {
  name: string;
  port: number;
  /** flow: a hash of the client's address and port, the same on every host (stateful failover). */
  balance: 'roundrobin' | 'source' | 'flow';
  /** Servers that get new flows now (eligible, or every fail-open candidate when none is). */
  members: readonly KernelServer[];
}

export interface KernelPlan {
  /** The table's name (tableName()). */
  table: string;
  /** Tables of ours this one takes over (a predecessor that carried our listeners): deleted in the same transaction. */
  replaces?: readonly string[];
  /** Address the listeners answer on: an IP, or 0.0.0.0 (every local IPv4 address) / :: (every local address). */
  bind: string;
  preserveClientIp: boolean;
  /**
   * Translated source when it must move with the VIP (stateful failover): the servers' replies then reach
   * whichever host holds it. Without it, masquerade (this host's address towards the server).
   */
  snatAddress?: string;
  /**
   * Balance also a packet of a flow this host has no state for (not only a bare SYN), by the listener's
   * hash: a flow whose state was not synced in time continues on the same server after a failover.
   */
  pickUp?: boolean;
  listeners: readonly KernelListener[];
  /** Every server whose flows are counted: the members and those still carrying flows (drained, down, removed). */
  servers: readonly KernelServer[];
  /** Chains and counters in the table now, so that the ones no longer wanted are deleted. */
  existing?: { chains: readonly string[]; counters: readonly string[] };
}

/** The chain of a listener (and the prefix of its counters): names may hold '-', nft identifiers use '_'. */
export function listenerChain(name: string): string {
  return `l_${name.replace(/-/g, '_')}`;
}

/** The chain of a server (and the prefix of its counters). */
export function serverChain(id: string): string {
  return `s_${id}`;
}

/** A named counter of a listener's or a server's chain: new flows, bytes in and out, rejected flows. */
export function counterOf(chain: string, kind: 'new' | 'in' | 'out' | 'rejected'): string {
  return `${chain}_${kind}`;
}

/** The conntrack mark of a server's flows. */
export function markOf(id: string): number {
  return (MARK_PREFIX | Number.parseInt(id, 16)) >>> 0;
}

const hex = (n: number) => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;

/**
 * Stable 24-bit ids for server keys (listener|address|port). A collision, which is rare, is resolved by
 * probing in key order, so every host and every restart computes the same ids for the same keys. `taken`: the
 * ids of the other tables on the host (another endpoint's servers), which are skipped the same way; two
 * endpoints share an id only when their servers have the same key (the same backend under one listener name).
 */
export function serverIds(keys: readonly string[], others: Iterable<string> = []): Map<string, string> {
  const ids = new Map<string, string>();
  const taken = new Set<number>([...others].map((id) => Number.parseInt(id, 16)));
  for (const key of [...new Set(keys)].sort()) {
    let id = mix32(fnv1a(key)) & 0xffffff;
    if (id === 0) id = 1;
    while (taken.has(id)) id = (id % 0xffffff) + 1;
    taken.add(id);
    ids.set(key, id.toString(16).padStart(6, '0'));
  }
  return ids;
}

/**
 * Slots for a listener's members: each member appears `weight` times, spread out (smooth weighted
 * round robin), so numgen's rotation follows the weights. For `source`, a fixed number of slots is
 * filled by rendezvous hashing, so a membership change moves only the flows of the member that changed
 * and two hosts with the same members choose alike.
 */
export function slots(listener: KernelListener): string[] {
  const members = listener.members.filter((m) => m.weight > 0);
  if (members.length === 0) return [];
  if (listener.balance !== 'roundrobin') return rendezvousSlots(members, SOURCE_SLOTS);
  const total = members.reduce((sum, m) => sum + m.weight, 0);
  const current = new Map(members.map((m) => [m.id, 0]));
  const out: string[] = [];
  for (let i = 0; i < total; i++) {
    let best = members[0];
    for (const m of members) {
      current.set(m.id, current.get(m.id)! + m.weight);
      if (current.get(m.id)! > current.get(best.id)!) best = m;
    }
    current.set(best.id, current.get(best.id)! - total);
    out.push(best.id);
  }
  return out;
}

/** Slots of the source-hash table: a prime, several per member, small enough for one map. */
export const SOURCE_SLOTS = 251;

function rendezvousSlots(members: readonly KernelServer[], count: number): string[] {
  const out: string[] = [];
  for (let slot = 0; slot < count; slot++) {
    let best = members[0];
    let bestScore = -Infinity;
    for (const m of members) {
      // Weighted rendezvous: -weight / ln(u), u in (0, 1) from the hash of member and slot.
      const u = (mix32(fnv1a(`${m.id}/${slot}`)) + 1) / 4294967297;
      const score = -m.weight / Math.log(u);
      if (score > bestScore) { best = m; bestScore = score; }
    }
    out.push(best.id);
  }
  return out;
}

/** A fixed seed: every host hashes a client to the same slot. */
export const HASH_SEED = 0x6365;

export function renderRuleset(plan: KernelPlan): string {
  const t = `${FAMILY} ${plan.table}`;
  const wantedChains = new Set<string>(['nat_prerouting', 'nat_output', 'nat_postrouting', 'filter_forward', 'filter_input', 'filter_output', 'count', 'answer']);
  const wantedCounters = new Set<string>();
  const body: string[] = [];

  const bindFamily = isIP(plan.bind);
  const any = plan.bind === '0.0.0.0' || plan.bind === '::';
  // Which client families a listener answers: 0.0.0.0 → IPv4; :: → both; an address → its own.
  const families: Array<4 | 6> = plan.bind === '0.0.0.0' ? [4] : plan.bind === '::' ? [4, 6] : [bindFamily === 6 ? 6 : 4];
  const daddr = (family: 4 | 6) => {
    const ip = family === 4 ? 'ip' : 'ip6';
    // Loopback is left alone: a DNATed packet from 127.0.0.1 would be dropped as a martian.
    return any ? `fib daddr type local ${ip} daddr != ${family === 4 ? '127.0.0.0/8' : '::1'}` : `${ip} daddr ${plan.bind}`;
  };

  // Servers: mark the flow, count it, translate it. One chain each, jumped to from a listener's map.
  for (const server of plan.servers) {
    const family = isIP(server.address) === 6 ? 6 : 4;
    const ip = family === 4 ? 'ip' : 'ip6';
    const target = joinHostPort(server.address, server.port);
    const chain = serverChain(server.id);
    const counter = (kind: 'new' | 'in' | 'out') => counterOf(chain, kind);
    wantedChains.add(chain).add(`c_${server.id}`);
    for (const kind of ['new', 'in', 'out'] as const) {
      wantedCounters.add(counter(kind));
      body.push(`  counter ${counter(kind)} {\n  }`);
    }
    // A flow starts unanswered; one picked up mid-stream (pickUp) was answered on the host it came from.
    const mark = plan.pickUp
      ? `    ct mark set ${hex(markOf(server.id) | MARK_ANSWERED)}\n    tcp flags & (fin | syn | rst | ack) == syn ct mark set ${hex(markOf(server.id))}`
      : `    ct mark set ${hex(markOf(server.id))}`;
    body.push(
      `  chain ${chain} {\n${mark}\n    counter name ${counter('new')}\n    meta l4proto tcp dnat ${ip} to ${target}\n  }`,
      // The listener's counters live in the table too: they outlast the servers (and serve) that fed them.
      `  chain c_${server.id} {\n    ct direction original counter name ${counterOf(server.listener, 'in')}\n    ct direction original counter name ${counter('in')} accept\n    counter name ${counterOf(server.listener, 'out')}\n    counter name ${counter('out')} accept\n  }`,
    );
  }

  // Listeners: only a new connection's first packet (a bare SYN) is balanced. Any other packet of a
  // flow conntrack no longer knows (its server was closed) is left alone, reaches this host, and is
  // answered with a reset — the client reconnects instead of hanging.
  const dispatch: string[] = [];
  for (const listener of plan.listeners) {
    const chain = listenerChain(listener.name);
    wantedChains.add(chain);
    for (const kind of ['new', 'in', 'out', 'rejected'] as const) {
      wantedCounters.add(counterOf(chain, kind));
      body.push(`  counter ${counterOf(chain, kind)} {\n  }`);
    }
    const rules: string[] = [`    counter name ${counterOf(chain, 'new')}`];
    for (const family of families) {
      const members = listener.members.filter((m) => (isIP(m.address) === 6 ? 6 : 4) === family);
      const ids = slots({ ...listener, members });
      const nfproto = family === 4 ? 'ipv4' : 'ipv6';
      if (ids.length === 0) continue;
      const map = ids.map((id, slot) => `${slot} : jump ${serverChain(id)}`).join(', ');
      const ip = family === 4 ? 'ip' : 'ip6';
      const key = listener.balance === 'source' ? `jhash ${ip} saddr mod ${ids.length} seed ${hex(HASH_SEED)}`
        : listener.balance === 'flow' ? `jhash ${ip} saddr . tcp sport mod ${ids.length} seed ${hex(HASH_SEED)}`
          : `numgen inc mod ${ids.length}`;
      rules.push(`    meta nfproto ${nfproto} ${key} vmap { ${map} }`);
    }
    rules.push(`    counter name ${counterOf(chain, 'rejected')}`);
    body.push(`  chain ${chain} {\n${rules.join('\n')}\n  }`);
    // Picking up: any packet but a reset of a flow conntrack does not know (its state was not synced).
    const first = plan.pickUp ? 'tcp flags & rst == 0' : 'tcp flags & (fin | syn | rst | ack) == syn';
    for (const family of families) dispatch.push(`    ${daddr(family)} tcp dport ${listener.port} ${first} jump ${chain}`);
  }

  body.push(
    `  chain nat_prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n${dispatch.join('\n')}\n  }`,
    // Connections from this host to the endpoint (and its own health checks through it).
    `  chain nat_output {\n    type nat hook output priority -100; policy accept;\n${dispatch.join('\n')}\n  }`,
  );

  // Source translation: everything we forwarded when the client's address is not kept; with it kept,
  // only flows from a server to the endpoint (the reply would go straight back, bypassing us: hairpin).
  // Our flows are those marked by our servers (whatever their answered and closing bits): another
  // endpoint's table on this host translates and counts its own.
  const marks = [...new Set(plan.servers.map((s) => hex(markOf(s.id))))];
  const ours = marks.length > 0 ? `ct mark & ${hex(SERVER_MARK_MASK)} { ${marks.join(', ')} }` : undefined;
  const snat: string[] = [];
  if (ours && !plan.preserveClientIp && plan.snatAddress) {
    const family = isIP(plan.snatAddress) === 6 ? 'ip6' : 'ip';
    snat.push(`    ${ours} meta nfproto ${family === 'ip' ? 'ipv4' : 'ipv6'} snat ${family} to ${plan.snatAddress}`, `    ${ours} masquerade`);
  } else if (ours && !plan.preserveClientIp) snat.push(`    ${ours} masquerade`);
  else if (ours) {
    const v4 = plan.servers.filter((s) => isIP(s.address) === 4).map((s) => s.address);
    const v6 = plan.servers.filter((s) => isIP(s.address) === 6).map((s) => s.address);
    if (v4.length) snat.push(`    ${ours} ip saddr { ${[...new Set(v4)].join(', ')} } masquerade`);
    if (v6.length) snat.push(`    ${ours} ip6 saddr { ${[...new Set(v6)].join(', ')} } masquerade`);
  }
  body.push(`  chain nat_postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n${snat.join('\n')}\n  }`);

  // Bytes per server and direction, for forwarded flows and for this host's own.
  const countMap = plan.servers.map((s) => `${hex(markOf(s.id))} : jump c_${s.id}`).join(', ');
  body.push(
    `  chain count {\n    ct direction reply ct mark & ${hex(MARK_ANSWERED)} == 0 jump answer\n    tcp flags & (fin | rst) != 0 ct mark set ct mark | ${hex(MARK_CLOSING)}\n${countMap ? `    ct mark & ${hex(SERVER_MARK_MASK)} vmap { ${countMap} }\n` : ''}  }`,
    // The server's first packet back. A reset (its port is closed: the process died) or an ICMP error (the host is
    // gone) never reaches the client: the kernel forgets a flow whose only answer was a reset, so the client's SYN
    // retransmission (about 1 s later) is balanced again, to a server that answers. Anything else answers the flow.
    // ICMP and ICMPv6 by number: nft resolves their names through /etc/protocols, which minimal hosts and images lack.
    `  chain answer {\n    tcp flags & rst != 0 drop\n    meta l4proto { 1, 58 } drop\n    ct mark set ct mark | ${hex(MARK_ANSWERED)}\n  }`,
  );
  for (const [chain, hook] of [['filter_forward', 'forward'], ['filter_input', 'input'], ['filter_output', 'output']] as const) {
    body.push(`  chain ${chain} {\n    type filter hook ${hook} priority filter; policy accept;\n${ours ? `    ${ours} jump count\n` : ''}  }`);
  }

  const deletes: string[] = [];
  for (const chain of plan.existing?.chains ?? []) if (!wantedChains.has(chain)) deletes.push(`delete chain ${t} ${chain}`);
  for (const counter of plan.existing?.counters ?? []) if (!wantedCounters.has(counter)) deletes.push(`delete counter ${t} ${counter}`);

  return [
    `# cluster-endpoint kernel data plane: one transaction. Edits are overwritten at the next change.`,
    `add table ${t}`,
    `flush table ${t}`,
    `table ${t} {`,
    body.join('\n'),
    '}',
    ...deletes,
    ...(plan.replaces ?? []).map((table) => `delete table ${FAMILY} ${table}`),
    '',
  ].join('\n');
}

