import { defineRule } from '../../context.js';
import type { RuleFinding } from '../../finding.js';
import { specLine, written } from './where.js';

/** Settings of the proxy data path: in kernel mode the kernel forwards packets and none of them applies. */
const PROXY_ONLY: ReadonlyArray<{ key: string; instead: string }> = [
  { key: 'retries', instead: 'a connect that fails is not retried on another server; the client retries' },
  { key: 'replay', instead: 'nothing is buffered or replayed; a server dying mid-handshake resets the client' },
  { key: 'replayBufferSize', instead: 'nothing is buffered' },
  { key: 'connectTimeout', instead: 'the client\'s own SYN retries decide how long a connect to a dead server takes' },
  { key: 'idleTimeout', instead: 'conntrack\'s timeouts apply (nf_conntrack_tcp_timeout_established, 5 days by default)' },
  { key: 'maxConnections', instead: 'the conntrack table size (nf_conntrack_max) limits flows' },
];

/** In balancer.mode kernel the proxy-only settings do nothing: say so where the user wrote them. */
export const specKernelModeProxySettings = defineRule({
  id: 'spec/kernel-mode-proxy-settings',
  kind: 'spec',
  check(file) {
    const spec = file.result.spec;
    if (!spec || spec.balancer.mode !== 'kernel') return [];
    const found: RuleFinding[] = [];
    const report = (path: Array<string | number>, label: string, instead: string) => found.push({
      severity: 'warning', line: specLine(file, path),
      message: `${label} has no effect in balancer.mode: kernel`,
      why: `in kernel mode the Linux kernel forwards the packets (nftables NAT and conntrack) and serve only decides who gets new flows: ${instead}`,
      source: 'docs/kernel.md ("Proxy mode and kernel mode side by side") ; https://docs.kernel.org/networking/nf_conntrack-sysctl.html',
      fix: `remove ${label}, or use balancer.mode: proxy`,
    });
    for (const { key, instead } of PROXY_ONLY) {
      if (written(file, ['balancer', key]) !== undefined) report(['balancer', key], `balancer.${key}`, instead);
    }
    spec.listeners.forEach((listener, index) => {
      if (written(file, ['listeners', index, 'replay']) !== undefined) report(['listeners', index, 'replay'], `listeners[${index}].replay (${listener.name})`, PROXY_ONLY[1].instead);
    });
    return found;
  },
});
