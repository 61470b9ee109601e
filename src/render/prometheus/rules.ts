// Prometheus alerting rules for what matters at the endpoint, with the spec's own listeners, ports, check
// timeouts and VIP address written in: a rule says "kubernetes on 192.168.30.30:6443", not "a backend".
import { joinHostPort } from '../../spec/address.js';
import { formatDuration } from '../../spec/duration.js';
import type { Spec } from '../../spec/types.js';
import { clusterInfo, clusterLabels, ofCluster, series } from './selector.js';

export type Severity = 'critical' | 'warning' | 'info';

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  /**
   * severity, and the cluster and endpoint the rule watches (one Prometheus, several clusters); per-listener
   * rules also carry `proxy` (the listener), so rules of one name stay distinct.
   */
  labels: { severity: Severity; cluster: string; endpoint: string; proxy?: string };
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

type Rule = (alert: string, severity: Severity, expr: string, summary: string, description: string, forMs?: number, proxy?: string) => AlertRule;

/** A rule maker that labels every alert with the spec's cluster and endpoint. */
function rulesOf(spec: Spec): Rule {
  const labels = clusterLabels(spec);
  return (alert, severity, expr, summary, description, forMs, proxy) => ({
    alert, expr, ...(forMs === undefined ? {} : { for: formatDuration(forMs) }),
    labels: { severity, ...labels, ...(proxy ? { proxy } : {}) }, annotations: { summary, description },
  });
}

export function alertGroups(spec: Spec): RuleGroup[] {
  const rule = rulesOf(spec);
  const groups: RuleGroup[] = [{ name: `cluster-endpoint-${spec.cluster.name}`, rules: balancerRules(spec, rule) }];
  if (spec.vip && spec.vip.peers.length > 0) groups.push({ name: `cluster-endpoint-${spec.cluster.name}-vip`, rules: vipRules(spec, rule) });
  if (spec.bgp) groups.push({ name: `cluster-endpoint-${spec.cluster.name}-bgp`, rules: bgpRules(spec, rule) });
  return groups;
}

/** What clients of a listener get when none of its servers is up and ready: the spec's whenAllDown says. */
function noServerConsequence(spec: Spec, where: string): string {
  return spec.balancer.whenAllDown === 'fail-open'
    ? `New connections to ${where} go to every node not in maintenance, up or not (whenAllDown: fail-open): clients reach only the nodes that still answer, and are refused by the others.`
    : `Clients of ${where} are refused (whenAllDown: ${spec.balancer.whenAllDown}).`;
}

function balancerRules(spec: Spec, rule: Rule): AlertRule[] {
  const { cluster } = clusterLabels(spec);
  // `up` carries no label of ours: a target is this cluster's when it labels itself (scrape config) or
  // when its last answer in a day said so; past that, only the scrape config's label names it.
  const down = `${series('up', { cluster })} == 0 or on (instance) (${series('up')} == 0 and on (instance) last_over_time(${clusterInfo(spec)}[1d]))`;
  const rules: AlertRule[] = [
    rule('ClusterEndpointDown', 'critical', down,
      'cluster-endpoint on {{ $labels.instance }} does not answer scrapes',
      'serve is not running or its admin surface is unreachable; on that host: systemctl status cluster-endpoint.', 60_000),
  ];
  for (const listener of spec.listeners) {
    const where = `${listener.name} (${joinHostPort(spec.endpoint, listener.port)})`;
    rules.push(rule('ClusterEndpointListenerNoServer', 'critical', ofCluster(spec, `${series('haproxy_backend_active_servers', { proxy: listener.name })} == 0`),
      `no server of ${where} is up and ready on {{ $labels.instance }}`,
      `Every ${listener.targets} node is down, drained or in maintenance: cluster-endpoint status shows why. ${noServerConsequence(spec, where)}`, 30_000, listener.name));
  }
  // Detection already waited unhealthyThreshold failed checks; a minute more keeps a reboot from paging.
  // A drained server that is down was taken out on purpose (a rolling upgrade): it does not page.
  const drained = `${series('cluster_endpoint_server_admin_state', { state: 'drain' })} == 1`;
  rules.push(
    rule('ClusterEndpointServerDown', 'warning', ofCluster(spec, `${series('haproxy_server_status', { state: 'DOWN' })} == 1 unless on (instance, proxy, server) ${drained}`),
      '{{ $labels.server }} is down on listener {{ $labels.proxy }} ({{ $labels.instance }})',
      'Its health checks fail; the other servers take its connections. cluster-endpoint status shows the last check.', 60_000),
    rule('ClusterEndpointServerFlapping', 'warning', ofCluster(spec, `increase(${series('haproxy_server_check_up_down_total')}[15m]) > 2`),
      '{{ $labels.server }} on listener {{ $labels.proxy }} went down more than twice in 15 minutes',
      'A node that keeps failing its checks costs clients retries; look at the node, or raise the unhealthyThreshold.'),
  );
  for (const listener of spec.listeners) {
    const limit = (listener.healthCheck.timeoutMs * SLOW_CHECK_SHARE) / 1000;
    rules.push(rule('ClusterEndpointCheckSlow', 'warning', ofCluster(spec, `${series('haproxy_server_check_duration_seconds', { proxy: listener.name })} > ${limit}`),
      `{{ $labels.server }} answers ${listener.name} health checks in {{ $value | humanizeDuration }}`,
      `Over half the ${formatDuration(listener.healthCheck.timeoutMs)} check timeout for 5 minutes: a little slower and the checks fail and the server is marked down.`, 300_000, listener.name));
  }
  rules.push(
    rule('ClusterEndpointReloadFailed', 'warning', ofCluster(spec, `${series('cluster_endpoint_config_last_reload_successful')} == 0`),
      'cluster-endpoint on {{ $labels.instance }} refused its new spec',
      'The previous config still serves. cluster-endpoint validate -c /etc/cluster-endpoint/endpoint.yaml names the problem; fix the file and it reloads.'),
    rule('ClusterEndpointDescriptorsNearLimit', 'warning', ofCluster(spec, `${series('process_open_fds')} / ${series('process_max_fds')} > ${DESCRIPTOR_SHARE}`),
      'cluster-endpoint on {{ $labels.instance }} uses {{ $value | humanizePercentage }} of its file descriptors',
      'Each proxied connection takes two; at the limit new connections fail. Raise LimitNOFILE or lower balancer.maxConnections.', 300_000),
  );
  return rules;
}

function vipRules(spec: Spec, rule: Rule): AlertRule[] {
  const vip = spec.vip!;
  const master = series('cluster_endpoint_vip_role', { address: vip.address, role: 'master' });
  // A failover takes a few advertisement intervals; anything much longer is an outage of the address.
  const settle = Math.max(30_000, 10 * vip.advertIntervalMs);
  return [
    rule('ClusterEndpointVipNoHolder', 'critical', `absent(${ofCluster(spec, `${master} == 1`)})`,
      `no LB host holds the VIP ${vip.address}`,
      `Clients of ${vip.address} get no answer. Peers: ${vip.peers.map((p) => p.name).join(', ')}; check that serve runs on them and that their health checks pass.`, settle),
    rule('ClusterEndpointVipSplitBrain', 'critical', `count(${ofCluster(spec, `${master} == 1`)}) > 1`,
      `{{ $value }} LB hosts hold the VIP ${vip.address} at once`,
      'The peers do not hear each other\'s advertisements (a cut link, a firewall on VRRP, or different keys): ARP answers flap between them.', settle),
    rule('ClusterEndpointVipFailover', 'info', ofCluster(spec, `changes(${master}[5m]) > 0 and ${master} == 1`),
      `{{ $labels.instance }} took over the VIP ${vip.address}`,
      'The previous holder stopped, failed its checks or lost its link; cluster-endpoint status on both hosts shows the reason.'),
    rule('ClusterEndpointVipFlapping', 'warning', ofCluster(spec, `increase(${series('cluster_endpoint_vip_transitions_total', { address: vip.address })}[15m]) > 4`),
      `the VIP ${vip.address} changed role on {{ $labels.instance }} more than 4 times in 15 minutes`,
      'Unstable health checks or a lossy link between the peers; clients see a short outage at every move.'),
    rule('ClusterEndpointVipForeignAdverts', 'warning', ofCluster(spec, `increase(${series('cluster_endpoint_vip_adverts_dropped_total', { address: vip.address, reason: 'auth' })}[10m]) > 0`),
      `{{ $labels.instance }} dropped advertisements for ${vip.address} with a wrong key`,
      `Another VRRP speaker on virtual router id ${vip.virtualRouterId}, or peers with different keys (CLUSTER_ENDPOINT_VIP_KEY).`),
  ];
}

function bgpRules(spec: Spec, rule: Rule): AlertRule[] {
  const announced = series('cluster_endpoint_bgp_route_announced');
  return [
    rule('ClusterEndpointBgpNoAnnouncement', 'critical', `absent(${ofCluster(spec, `${announced} == 1`)})`,
      `no LB host announces ${spec.endpoint} to any router`,
      `Routers have no path to ${spec.endpoint}: clients get no answer. Every host's sessions are down or every host withdrew (its balancer has no healthy server); cluster-endpoint status on each host shows which.`, 30_000),
    // A host that stops announcing while the others go on costs no client anything yet: it is one fault from an outage.
    rule('ClusterEndpointBgpHostNotAnnouncing', 'warning', ofCluster(spec, `max by (job, instance) (${announced}) == 0`),
      `{{ $labels.instance }} announces ${spec.endpoint} to no router`,
      'Its BGP sessions are down or it withdrew the route (its balancer has no healthy server, or it is stopping); the other hosts carry the traffic. cluster-endpoint status on that host shows which.', 60_000),
    rule('ClusterEndpointBgpSessionDown', 'warning', ofCluster(spec, `${series('cluster_endpoint_bgp_session_up')} == 0`),
      '{{ $labels.instance }} has no BGP session with {{ $labels.peer }} ({{ $labels.address }})',
      'The router does not reach this host: check the link, the router\'s neighbor settings (ASN, address, password) and BFD. cluster-endpoint status shows the session state.', 60_000),
  ];
}
