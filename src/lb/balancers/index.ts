import type { BalanceAlgorithm } from '../../spec/types.js';
import { leastconn } from './leastconn.js';
import { roundrobin } from './roundrobin.js';
import { source } from './source.js';
import type { Balancer } from './types.js';

/** Balancing strategies by their spec name; each call returns a fresh strategy with its own state. */
export const BALANCERS: Record<BalanceAlgorithm, () => Balancer> = { roundrobin, leastconn, source };

export type { Balancer, Pickable, PickContext } from './types.js';
