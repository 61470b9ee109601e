import { defineRule } from '../../context.js';
import { servers } from '../../parsers/haproxy.js';
import { ETCD_QUORUM_DOCS } from '../../sources.js';
import { quorumWhy } from '../quorum-why.js';
import { kubernetesBackends, serverCount } from './backends.js';

/** A balancer in front of one or two control-plane nodes: etcd has no quorum with one of two down. */
export const haproxyQuorum = defineRule({
  id: 'haproxy/quorum',
  kind: 'haproxy',
  check(file) {
    return kubernetesBackends(file.config).flatMap((section) => {
      // Backup servers (a fail-open copy of the same nodes) are not more nodes.
      const lines = servers(section).filter((s) => !s.flags.includes('backup'));
      const total = lines.reduce((n, s) => n + serverCount(s), 0);
      if (total === 0 || total > 2) return [];
      return [{
        severity: 'warning' as const,
        line: lines[0].line,
        message: `${section.kind} ${section.name} balances the Kubernetes API over ${total} control-plane node(s)`,
        why: quorumWhy(total, `${section.kind} ${section.name}`),
        source: ETCD_QUORUM_DOCS,
        fix: 'run three (or five) control-plane nodes and list them all',
      }];
    });
  },
});
