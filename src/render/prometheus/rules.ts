// Prometheus alerting rules for what matters at the endpoint, with the spec's own listeners, ports, check
// timeouts and VIP address written in: a rule says "kubernetes on 192.168.30.30:6443", not "a backend".
import { joinHostPort } from '../../spec/address.js';
import { formatDuration } from '../../spec/duration.js';
import type { Spec } from '../../spec/types.js';
import { series } from './selector.js';

export type Severity = 'critical' | 'warning' | 'info';

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  /** severity; per-listener rules also carry `proxy` (the listener), so rules of one name stay distinct. */
  labels: { severity: Severity; proxy?: string };
  annotations: { summary: string; description: string };
}

export interface RuleGroup {
  name: string;
  rules: AlertRule[];
}

/** A check slower than this share of its timeout is "climbing": one more step and checks start failing. */
export const SLOW_CHECK_SHARE = 0.5;
/** Open descriptors over this share of the limit: new connections will soon fail with EMFILE. */
export const DESCRIPTOR_SHARE = 0.8;

const rule = (alert: string, severity: Severity, expr: string, summary: string, description: string, forMs?: number, proxy?: string): AlertRule => ({
  alert, expr, ...(forMs === undefined ? {} : { for: formatDuration(forMs) }), labels: { severity, ...(proxy ? { proxy } : {}) }, annotations: { summary, description },
});

export function alertGroups(spec: Spec): RuleGroup[] {
  const groups: RuleGroup[] = [{ name: `cluster-endpoint-${spec.cluster.name}`, rules: balancerRules(spec) }];
  if (spec.vip && spec.vip.peers.length > 0) groups.push({ name: `cluster-endpoint-${spec.cluster.name}-vip`, rules: vipRules(spec) });
  return groups;
}

function balancerRules(spec: Spec): AlertRule[] {
  const rules: AlertRule[] = [
    rule('ClusterEndpointDown', 'critical', `${series('up')} == 0`,
      'cluster-endpoint on {{ $labels.instance }} does not answer scrapes',
      'serve is not running or its admin surface is unreachable; on that host: systemctl status cluster-endpoint.', 60_000),
  ];
  for (const listener of spec.listeners) {
    const where = `${listener.name} (${joinHostPort(spec.endpoint, listener.port)})`;
    rules.push(rule('ClusterEndpointListenerNoServer', 'critical', `${series('haproxy_backend_active_servers', { proxy: listener.name })} == 0`,
      `no server of ${where} is up and ready on {{ $labels.instance }}`,
      `Clients of ${where} get no answer. Every ${listener.targets} node is down, drained or in maintenance: cluster-endpoint status shows why.`, 30_000, listener.name));
  }
  // Detection already waited unhealthyThreshold failed checks; a minute more keeps a reboot from paging.
  rules.push(
    rule('ClusterEndpointServerDown', 'warning', `${series('haproxy_server_status', { state: 'DOWN' })} == 1`,
      '{{ $labels.server }} is down on listener {{ $labels.proxy }} ({{ $labels.instance }})',
      'Its health checks fail; the other servers take its connections. cluster-endpoint status shows the last check.', 60_000),
    rule('ClusterEndpointServerFlapping', 'warning', `increase(${series('haproxy_server_check_up_down_total')}[15m]) > 2`,
      '{{ $labels.server }} on listener {{ $labels.proxy }} went down more than twice in 15 minutes',
      'A node that keeps failing its checks costs clients retries; look at the node, or raise the unhealthyThreshold.'),
  );
  for (const listener of spec.listeners) {
    const limit = (listener.healthCheck.timeoutMs * SLOW_CHECK_SHARE) / 1000;
    rules.push(rule('ClusterEndpointCheckSlow', 'warning', `${series('haproxy_server_check_duration_seconds', { proxy: listener.name })} > ${limit}`,
      `{{ $labels.server }} answers ${listener.name} health checks in {{ $value | humanizeDuration }}`,
      `Over half the ${formatDuration(listener.healthCheck.timeoutMs)} check timeout for 5 minutes: a little slower and the checks fail and the server is marked down.`, 300_000, listener.name));
  }
  rules.push(
    rule('ClusterEndpointReloadFailed', 'warning', `${series('cluster_endpoint_config_last_reload_successful')} == 0`,
      'cluster-endpoint on {{ $labels.instance }} refused its new spec',
      'The previous config still serves. cluster-endpoint validate -c /etc/cluster-endpoint/endpoint.yaml names the problem; fix the file and it reloads.'),
    rule('ClusterEndpointDescriptorsNearLimit', 'warning', `${series('process_open_fds')} / ${series('process_max_fds')} > ${DESCRIPTOR_SHARE}`,
      'cluster-endpoint on {{ $labels.instance }} uses {{ $value | humanizePercentage }} of its file descriptors',
      'Each proxied connection takes two; at the limit new connections fail. Raise LimitNOFILE or lower balancer.maxConnections.', 300_000),
  );
  return rules;
}

function vipRules(spec: Spec): AlertRule[] {
  const vip = spec.vip!;
  const master = series('cluster_endpoint_vip_role', { address: vip.address, role: 'master' });
  // A failover takes a few advertisement intervals; anything much longer is an outage of the address.
  const settle = Math.max(30_000, 10 * vip.advertIntervalMs);
  return [
    rule('ClusterEndpointVipNoHolder', 'critical', `absent(${master} == 1)`,
      `no LB host holds the VIP ${vip.address}`,
      `Clients of ${vip.address} get no answer. Peers: ${vip.peers.map((p) => p.name).join(', ')}; check that serve runs on them and that their health checks pass.`, settle),
    rule('ClusterEndpointVipSplitBrain', 'critical', `count(${master} == 1) > 1`,
      `{{ $value }} LB hosts hold the VIP ${vip.address} at once`,
      'The peers do not hear each other\'s advertisements (a cut link, a firewall on VRRP, or different keys): ARP answers flap between them.', settle),
    rule('ClusterEndpointVipFailover', 'info', `changes(${master}[5m]) > 0 and ${master} == 1`,
      `{{ $labels.instance }} took over the VIP ${vip.address}`,
      'The previous holder stopped, failed its checks or lost its link; cluster-endpoint status on both hosts shows the reason.'),
    rule('ClusterEndpointVipFlapping', 'warning', `increase(${series('cluster_endpoint_vip_transitions_total', { address: vip.address })}[15m]) > 4`,
      `the VIP ${vip.address} changed role on {{ $labels.instance }} more than 4 times in 15 minutes`,
      'Unstable health checks or a lossy link between the peers; clients see a short outage at every move.'),
    rule('ClusterEndpointVipForeignAdverts', 'warning', `increase(${series('cluster_endpoint_vip_adverts_dropped_total', { address: vip.address, reason: 'auth' })}[10m]) > 0`,
      `{{ $labels.instance }} dropped advertisements for ${vip.address} with a wrong key`,
      `Another VRRP speaker on virtual router id ${vip.virtualRouterId}, or peers with different keys (CLUSTER_ENDPOINT_VIP_KEY).`),
  ];
}
