import type { Problem } from '../problem.js';
import { entries, type Rule } from './rule.js';

/** Node names are unique across controlPlane and workers; listener names and ports are unique. */
export const uniqueNames: Rule = {
  id: 'unique-names',
  check(raw) {
    const problems: Problem[] = [];
    const seen = new Map<string, string>();
    for (const group of ['controlPlane', 'workers'] as const) {
      for (const [index, node] of entries(raw[group])) {
        if (typeof node.name !== 'string') continue;
        const path = `${group}[${index}].name`;
        const first = seen.get(node.name);
        if (first) problems.push(duplicate(path, `node name "${node.name}" is already used by ${first}`, 'give every node a unique name'));
        else seen.set(node.name, path);
      }
    }
    const names = new Map<string, string>();
    const ports = new Map<number, string>();
    for (const [index, listener] of entries(raw.listeners)) {
      if (typeof listener.name === 'string') {
        const first = names.get(listener.name);
        if (first) problems.push(duplicate(`listeners[${index}].name`, `listener name "${listener.name}" is already used by ${first}`, 'give every listener a unique name'));
        else names.set(listener.name, `listeners[${index}].name`);
      }
      if (typeof listener.port === 'number') {
        const first = ports.get(listener.port);
        if (first) problems.push(duplicate(`listeners[${index}].port`, `port ${listener.port} is already used by ${first}`, 'each listener needs its own port'));
        else ports.set(listener.port, `listeners[${index}].port`);
      }
    }
    return problems;
  },
};

function duplicate(path: string, message: string, hint: string): Problem {
  return { code: 'SPEC_DUPLICATE', severity: 'error', path, message, hint };
}
