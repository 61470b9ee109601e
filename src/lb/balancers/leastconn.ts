import { roundrobin } from './roundrobin.js';
import type { Balancer, Pickable } from './types.js';

/** Fewest active connections per unit of weight; ties rotate (HAProxy leastconn does the same). */
export function leastconn(): Balancer {
  const tieBreaker = roundrobin();
  return {
    pick<T extends Pickable>(candidates: readonly T[], context: { clientAddress: string }): T | undefined {
      let lowest = Infinity;
      let tied: T[] = [];
      for (const candidate of candidates) {
        if (candidate.weight <= 0) continue;
        const load = candidate.activeConnections / candidate.weight;
        if (load < lowest) {
          lowest = load;
          tied = [candidate];
        } else if (load === lowest) tied.push(candidate);
      }
      return tied.length <= 1 ? tied[0] : tieBreaker.pick(tied, context);
    },
  };
}
