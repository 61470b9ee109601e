import type { Problem } from '../problem.js';
import { bgpView } from './bgp-view.js';
import { text, type Rule } from './rule.js';

/** `serve --peer NAME` picks a host by name, so each name is one host. */
export const bgpHosts: Rule = {
  id: 'bgp-hosts',
  check(raw) {
    const problems: Problem[] = [];
    if (raw.bgp === undefined) return problems;
    const seen = new Map<string, string>();
    for (const { path, host } of bgpView(raw).hosts) {
      const name = text(host.name);
      if (name === undefined) continue;
      const first = seen.get(name);
      if (first) problems.push({ code: 'SPEC_DUPLICATE', severity: 'error', path: `${path}.name`, message: `host name "${name}" is already used by ${first}`, hint: 'give every LB host a unique name (serve --peer NAME picks it)' });
      else seen.set(name, path);
    }
    return problems;
  },
};
