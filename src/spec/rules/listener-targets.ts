import type { Problem } from '../problem.js';
import { entries, type Rule } from './rule.js';

/** A listener must target a node group that has nodes. */
export const listenerTargets: Rule = {
  id: 'listener-targets',
  check(raw) {
    const problems: Problem[] = [];
    const hasWorkers = Array.isArray(raw.workers) && raw.workers.length > 0;
    for (const [index, listener] of entries(raw.listeners)) {
      if (listener.targets === 'workers' && !hasWorkers) {
        problems.push({
          code: 'SPEC_REFERENCE', severity: 'error', path: `listeners[${index}].targets`,
          message: `listener "${String(listener.name)}" targets workers, but no workers are defined`,
          hint: 'add a workers: list, or remove this listener',
        });
      }
    }
    return problems;
  },
};
