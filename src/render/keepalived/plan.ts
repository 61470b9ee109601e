// The decisions behind keepalived.conf, kept apart from the text so they can be table-tested.
import { isIP } from 'node:net';
import type { Peer, Vip } from '../../spec/types.js';
import { Refusals } from '../refusals.js';

export interface FailoverPlan {
  /** VRRP version: 2 unless the VIP is IPv6 or the advertisement interval is not whole seconds. */
  version: 2 | 3;
  /** advert_int as keepalived reads it: whole seconds for VRRPv2, centiseconds allowed for VRRPv3. */
  advertInt: string;
  /** Weight of the haproxy check: 0, so a failing host enters FAULT (see chooseWeight). */
  weight: number;
  /** Why that weight (written into the file as a comment). */
  weightReason: string;
  /** Per peer: MASTER for the highest priority when preempting, else BACKUP. */
  states: Map<string, 'MASTER' | 'BACKUP'>;
  nopreempt: boolean;
  /** auth_pass (VRRPv2 PASS: keepalived uses the first 8 characters only). */
  authPass?: string;
}

/** Decides version, interval, weight and states for a VIP with peers. Throws RenderRefused naming every field. */
export function planFailover(vip: Vip): FailoverPlan {
  const refusals = new Refusals('keepalived');
  if (vip.peers.length === 0) {
    refusals.add('vip.peers', 'lists no LB host: keepalived runs on the hosts that share the VIP', 'list the HAProxy hosts under vip.peers with name, address and priority (e.g. 100 and 90)');
  }
  const wholeSeconds = vip.advertIntervalMs % 1000 === 0;
  const version: 2 | 3 = vip.family === 6 || !wholeSeconds ? 3 : 2;
  const advertInt = advertIntFor(refusals, vip.advertIntervalMs, version);
  if (version === 3 && vip.authKey !== undefined) {
    const why = vip.family === 6 ? 'an IPv6 VIP needs VRRPv3' : `vip.advertInterval ${vip.advertIntervalMs}ms is not whole seconds, which needs VRRPv3`;
    refusals.add('vip.authKey', `${why}, and VRRPv3 has no authentication`, vip.family === 6 ? 'remove vip.authKey (and unset CLUSTER_ENDPOINT_VIP_KEY) for keepalived' : 'use a whole-second vip.advertInterval (e.g. 1s) or remove vip.authKey');
  }
  const authPass = vip.authKey?.slice(0, 8);
  if (authPass !== undefined && (!/^[\x21-\x7e]+$/.test(authPass) || /["'#!]/.test(authPass))) {
    refusals.add('vip.authKey', 'keepalived reads its first 8 characters as one word, so they must be printable, with no space, quote, # or !', 'use letters, digits and punctuation such as - _ . : in the first 8 characters');
  }
  if (vip.unicast) {
    for (const [index, peer] of vip.peers.entries()) {
      if (isIP(peer.address) === 0) refusals.add('vip.peers[].address', `unicast VRRP needs an IP address, not "${peer.address}"`, 'give the peer\'s address on the VIP segment as an IP address', `vip.peers[${index}].address`);
    }
  }
  refusals.throwIfAny();
  const priorities = vip.peers.map((p) => p.priority);
  const max = Math.max(...priorities);
  const min = Math.min(...priorities);
  const { weight, weightReason } = chooseWeight(vip, max, min);
  const states = new Map<string, 'MASTER' | 'BACKUP'>();
  for (const peer of vip.peers) states.set(peer.name, vip.preempt && peer.priority === max ? 'MASTER' : 'BACKUP');
  return {
    version,
    advertInt,
    weight,
    weightReason,
    states,
    nopreempt: !vip.preempt,
    ...(authPass !== undefined ? { authPass } : {}),
  };
}

function advertIntFor(refusals: Refusals<'keepalived'>, ms: number, version: 2 | 3): string {
  // VRRPv2 counts whole seconds, 1 to 255; VRRPv3 centiseconds, 1 to 4095.
  const fits = version === 2 ? ms >= 1000 && ms <= 255_000 : ms % 10 === 0 && ms >= 10 && ms <= 40_950;
  const range = version === 2 ? 'VRRPv2 takes 1s to 255s' : 'VRRPv3 takes 10ms to 40.95s in steps of 10ms';
  if (!fits) refusals.add('vip.advertInterval', `${ms}ms cannot be written for keepalived: ${range}`, 'use e.g. 1s (the default)');
  return String(ms / 1000);
}

/**
 * A failing check must take the VIP away from the host whose HAProxy died. Two ways exist:
 * - a negative weight below the priority gap, -(max - min + 1): the host stays BACKUP-eligible with a
 *   lower priority. A preempting backup then still waits for its Master_Down_Timer (3 x advert_int +
 *   skew, RFC 5798 6.4.2: lower-priority adverts are discarded), and with nopreempt it never takes over;
 * - weight 0: the host enters FAULT, sends a priority-0 advert and drops the VIP, so a backup takes over
 *   after its skew time alone, whatever the priorities and preempt.
 * Measured in test/integration/render-bare-metal (advert 1s, check every 1s, fall 2): about 4.7s cut off
 * with -(max - min + 1), about 2.5s with 0. So: weight 0.
 */
function chooseWeight(vip: Vip, max: number, min: number): { weight: number; weightReason: string } {
  const why = vip.preempt
    ? `a lower priority (priorities ${max}..${min}) would only move the VIP when the backup's master-down timer runs out`
    : 'with nopreempt (vip.preempt false) a lower priority would never move the VIP';
  return {
    weight: 0,
    weightReason: `weight 0: a failing check puts this host in FAULT; it sends a priority-0 advert and drops the VIP, so a backup takes over at once. Not a negative weight: ${why}.`,
  };
}

/** The peers other than `self`, in spec order. */
export function otherPeers(vip: Vip, self: Peer): Peer[] {
  return vip.peers.filter((p) => p.name !== self.name);
}
