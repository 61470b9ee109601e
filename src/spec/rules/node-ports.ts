import { didYouMean } from '../load.js';
import { DEFAULT_LISTENERS } from '../defaults.js';
import type { Problem } from '../problem.js';
import { entries, list, record, text, type Rule } from './rule.js';

/** A node's port override names a listener that sends traffic to that node's group. */
export const nodePorts: Rule = {
  id: 'node-ports',
  check(raw) {
    const problems: Problem[] = [];
    // Without listeners: the defaults, as normalize applies them (talos-workers only with workers).
    const listeners = Array.isArray(raw.listeners) ? list(raw.listeners) : DEFAULT_LISTENERS.filter((l) => l.targets !== 'workers' || entries(raw.workers).length > 0);
    for (const group of ['controlPlane', 'workers'] as const) {
      const own = listeners.filter((l) => l.targets === group).map((l) => text(l.name)).filter((name): name is string => name !== undefined);
      const others = listeners.filter((l) => l.targets !== group).map((l) => text(l.name));
      for (const [index, node] of entries(raw[group])) {
        for (const key of Object.keys(record(node.ports))) {
          if (own.includes(key)) continue;
          const path = `${group}[${index}].ports.${key}`;
          const choices = own.length > 0 ? `listeners that target ${group}: ${own.join(', ')}` : `no listener targets ${group}`;
          if (others.includes(key)) {
            problems.push({ code: 'SPEC_REFERENCE', severity: 'error', path, message: `listener "${key}" targets ${group === 'controlPlane' ? 'workers' : 'controlPlane'}, not ${group}, so it never reaches this node`, hint: `remove it, or move the override to a node of that group; ${choices}` });
            continue;
          }
          const suggestion = didYouMean(key, own);
          problems.push({
            code: 'SPEC_REFERENCE', severity: 'error', path,
            message: `no listener named "${key}"${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`,
            hint: suggestion ? `rename it to ${suggestion}` : `a key of ports is a listener name; ${choices}`,
          });
        }
      }
    }
    return problems;
  },
};
