// conntrackd's configuration, as a pure function of the VIP and this peer: FTFW (reliable) sync of the
// flows to the VIP only, over UDP unicast to the other peer (multicast when there are more), with every
// path (lock, socket, log) in serve's own run directory so that several instances never collide.
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { FlowSync, Peer } from '../../spec/types.js';

/** The multicast group conntrackd uses when more than two peers sync (its documented default). */
export const SYNC_GROUP = { 4: '225.0.0.50', 6: 'ff02::3780' } as const;

export interface ConntrackdPaths {
  dir: string;
  config: string;
  lock: string;
  socket: string;
  log: string;
}

export function conntrackdPaths(dir: string): ConntrackdPaths {
  return { dir, config: join(dir, 'conntrackd.conf'), lock: join(dir, 'conntrackd.lock'), socket: join(dir, 'conntrackd.ctl'), log: join(dir, 'conntrackd.log') };
}

export interface ConntrackdPlan {
  vip: string;
  self: Peer;
  peers: readonly Peer[];
  sync: FlowSync;
  paths: ConntrackdPaths;
}

export function renderConntrackd(plan: ConntrackdPlan): string {
  const others = plan.peers.filter((p) => p.name !== plan.self.name);
  const v = isIP(plan.self.address) === 6 ? 6 : 4;
  const transport = others.length === 1
    ? [
        '  UDP {',
        `    IPv${v}_address ${plan.self.address}`,
        `    IPv${v}_Destination_Address ${others[0].address}`,
        `    Port ${plan.sync.port}`,
        `    Interface ${plan.sync.interface}`,
        '    SndSocketBuffer 1249280',
        '    RcvSocketBuffer 1249280',
        '    Checksum on',
        '  }',
      ]
    : [
        '  Multicast {',
        `    IPv${v}_address ${SYNC_GROUP[v]}`,
        `    Group ${plan.sync.port}`,
        ...(v === 4 ? [`    IPv4_interface ${plan.self.address}`] : []),
        `    Interface ${plan.sync.interface}`,
        '    SndSocketBuffer 1249280',
        '    RcvSocketBuffer 1249280',
        '    Checksum on',
        '  }',
      ];
  return [
    `# Written by cluster-endpoint serve for peer ${plan.self.name}; rewritten at every start.`,
    'Sync {',
    '  Mode FTFW {',
    '    DisableExternalCache off',
    '    StartupResync on',
    '  }',
    ...transport,
    '}',
    'General {',
    '  HashSize 32768',
    '  HashLimit 262144',
    `  LogFile ${plan.paths.log}`,
    '  Syslog off',
    `  LockFile ${plan.paths.lock}`,
    '  UNIX {',
    `    Path ${plan.paths.socket}`,
    '  }',
    '  NetlinkBufferSize 2097152',
    '  NetlinkBufferSizeMaxGrowth 8388608',
    '  NetlinkOverrunResync on',
    '  Filter From Userspace {',
    '    Protocol Accept {',
    '      TCP',
    '    }',
    // Forwarded flows only: this host's own (health checks from its address, loopback) stay local.
    '    Address Ignore {',
    `      IPv4_address 127.0.0.1`,
    ...plan.peers.map((p) => `      IPv${isIP(p.address) === 6 ? 6 : 4}_address ${p.address}`),
    '    }',
    '  }',
    '}',
    '',
  ].join('\n');
}

/** Numbers from `conntrackd -s`. */
export interface ConntrackdStats {
  /** Flows this host tracks and sends to its peers. */
  internal: number;
  /** Flows received from peers, ready to be committed on takeover. */
  external: number;
  messagesSent: number;
  messagesReceived: number;
  lost: number;
}

/**
 * `conntrackd -s` prints its counters as "value label" pairs per section. Reads the sections by their
 * headings: "cache internal:", "cache external:", the transport's traffic and "message tracking:".
 */
export function parseConntrackdStats(text: string): ConntrackdStats {
  const section = (heading: RegExp) => {
    const start = text.search(heading);
    if (start === -1) return '';
    const rest = text.slice(start);
    const end = rest.slice(1).search(/\n\S[^\n]*:\n/);
    return end === -1 ? rest : rest.slice(0, end + 1);
  };
  const number = (body: string, label: RegExp) => {
    const match = new RegExp(`(\\d+)\\s+${label.source}|${label.source}:?\\s+(\\d+)`).exec(body);
    return match ? Number(match[1] ?? match[2]) : 0;
  };
  const internal = section(/cache internal:/);
  const external = section(/cache external:/);
  const traffic = section(/(multicast|UDP) traffic/i);
  const tracking = section(/message tracking:/);
  return {
    internal: number(internal, /current active connections/),
    external: number(external, /current active connections/),
    messagesSent: number(traffic, /Pckts sent/),
    messagesReceived: number(traffic, /Pckts recv/),
    lost: number(tracking, /Lost msgs/),
  };
}
