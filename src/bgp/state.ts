// Reads BIRD's replies (control.ts) into what the status snapshot shows: per session its BGP state, last
// error and whether our route is exported to it; BFD per neighbour. Pure, tested on recorded replies.
import type { BirdReply } from './control.js';

export interface ProtocolState {
  name: string;
  /** BIRD's protocol type: BGP, Static, BFD, Device. */
  proto: string;
  /** BIRD's protocol state: up, start, down, … */
  state: string;
  /** Detail fields by name ("BGP state", "Neighbor address", "Last error"). */
  fields: Record<string, string>;
  /** Routes exported by the protocol's channel(s), from "Routes: N imported, M exported". */
  exported: number;
}

const CODE = { protocolRow: 1002, protocolDetail: 1006, bfdSessions: 1020, status: 1011, statusEnd: 13 } as const;

/** `show protocols all` → one entry per protocol. */
export function parseProtocols(reply: BirdReply): ProtocolState[] {
  const out: ProtocolState[] = [];
  let current: ProtocolState | undefined;
  for (const line of reply.lines) {
    if (line.code === CODE.protocolRow) {
      const [name, proto, , state] = line.text.trim().split(/\s+/);
      current = { name, proto, state, fields: {}, exported: 0 };
      out.push(current);
    } else if (line.code === CODE.protocolDetail && current) {
      const match = /^\s*([A-Za-z][A-Za-z ]*?):\s+(.*?)\s*$/.exec(line.text);
      if (!match) continue;
      const [, key, value] = match;
      if (key === 'Routes') {
        current.exported += Number(/(\d+) exported/.exec(value)?.[1] ?? 0);
      } else if (!(key in current.fields)) {
        current.fields[key] = value;
      }
    }
  }
  return out;
}

/** `show bfd sessions` → neighbour address → state (Up, Down, Init, AdminDown). */
export function parseBfdSessions(reply: BirdReply): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of reply.lines) {
    if (line.code !== CODE.bfdSessions) continue;
    // Rows: "<address> <interface> <state> <since> <interval> <timeout>"; the protocol name and the heading have no state.
    const [address, , state] = line.text.trim().split(/\s+/);
    if (state && /^(Up|Down|Init|AdminDown)$/.test(state)) out.set(address, state);
  }
  return out;
}

/** `show status` → the router id BIRD chose ("Router ID is 10.0.1.11"). */
export function parseRouterId(reply: BirdReply): string | undefined {
  for (const line of reply.lines) {
    const match = /^Router ID is (\S+)/.exec(line.text);
    if (match) return match[1];
  }
  return undefined;
}
