import { sameHost } from '../../../spec/address.js';
import { defineRule } from '../../context.js';
import { ETCD_QUORUM_DOCS } from '../../sources.js';
import { quorumWhy } from '../quorum-why.js';
import { specLine } from './where.js';

/**
 * One or two control-plane nodes behind a VIP or a balancer: etcd (and the Talos VIP, elected through
 * etcd) does not survive one node down. A single node with the endpoint on it is the guide's "no VIP"
 * option: fine, but nothing fails over, and doctor says so once.
 */
export const specQuorum = defineRule({
  id: 'spec/quorum',
  kind: 'spec',
  check(file) {
    const spec = file.result.spec;
    if (!spec || spec.controlPlane.length > 2) return [];
    const count = spec.controlPlane.length;
    const line = specLine(file, ['controlPlane']);
    const onNode = !spec.vip && spec.controlPlane.some((n) => sameHost(n.address, spec.endpoint));
    // Two nodes with the endpoint on one of them: spec/endpoint-is-node says what matters there.
    if (onNode && count === 2) return [];
    if (onNode) {
      return [{
        severity: 'info' as const, line,
        message: `one control-plane node (${spec.controlPlane[0].name}) and the endpoint is its address: nothing fails over`,
        why: 'this is the reference guide\'s "single control plane (no VIP)" option: it works, but while that node reboots (every Talos upgrade) the API is unreachable',
        source: 'reference guide, "Option 2: Single Control Plane (No VIP)" ; ' + ETCD_QUORUM_DOCS,
        fix: 'nothing to fix for a lab; for availability run three control-plane nodes behind a VIP or balancer',
      }];
    }
    const front = spec.vip ? `the VIP ${spec.vip.address}` : `the endpoint ${spec.endpoint}`;
    return [{
      severity: 'warning' as const, line,
      message: `${count} control-plane node(s) behind ${front}`,
      why: `${quorumWhy(count, front)}${count === 2 && spec.vip ? '; a Talos VIP, elected through etcd, stops moving too' : ''}`,
      source: ETCD_QUORUM_DOCS,
      fix: count === 1 ? 'use the node\'s address as the endpoint (no VIP), or add nodes to three' : 'run three control-plane nodes (or go back to one, without a VIP)',
    }];
  },
});
