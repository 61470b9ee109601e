import { addresses } from './addresses.js';
import { adminToken } from './admin-token.js';
import { balancerMode } from './balancer-mode.js';
import { bgp } from './bgp.js';
import { bgpHosts } from './bgp-hosts.js';
import { bgpRouterId } from './bgp-router-id.js';
import { bgpSession } from './bgp-session.js';
import { durations } from './durations.js';
import { listenerTargets } from './listener-targets.js';
import { nodePorts } from './node-ports.js';
import type { Rule } from './rule.js';
import { staticPod } from './static-pod.js';
import { talosLinks } from './talos-links.js';
import { uniqueNames } from './unique-names.js';
import { vip } from './vip.js';

/** Every semantic rule `validate` runs; `doctor` runs the same list. */
export const RULES: readonly Rule[] = [uniqueNames, addresses, durations, listenerTargets, nodePorts, adminToken, balancerMode, vip, bgp, bgpRouterId, bgpSession, bgpHosts, talosLinks, staticPod];
export type { Rule } from './rule.js';
