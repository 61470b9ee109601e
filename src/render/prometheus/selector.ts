// The series the rules and the dashboard read: serve's own /metrics, scraped under one job name, and
// narrowed to one cluster through the info series every serve exports (one Prometheus often scrapes the
// LB hosts of several clusters, whose listeners and nodes have the same names).
import type { Spec } from '../../spec/types.js';

/** The scrape job docs/metrics.md configures; every rule and panel selects it. */
export const JOB = 'cluster-endpoint';

/** `name{job="cluster-endpoint",k="v",k=~"re"}`: `labels` match exactly, `patterns` as regular expressions. */
export function series(name: string, labels: Record<string, string> = {}, patterns: Record<string, string> = {}): string {
  const parts = [
    `job="${JOB}"`,
    ...Object.entries(labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`),
    ...Object.entries(patterns).map(([k, v]) => `${k}=~${JSON.stringify(v)}`),
  ];
  return `${name}{${parts.join(',')}}`;
}

/** The labels that name a cluster's endpoint: on cluster_endpoint_info, and on every alert of its rules. */
export function clusterLabels(spec: Spec): { cluster: string; endpoint: string } {
  return { cluster: spec.cluster.name, endpoint: spec.endpoint };
}

/** This cluster's serve processes: the instances whose cluster_endpoint_info names the spec's cluster and endpoint. */
export function clusterInfo(spec: Spec): string {
  return series('cluster_endpoint_info', clusterLabels(spec));
}

/** `expr` kept only for this cluster's instances (its labels unchanged). */
export function ofCluster(spec: Spec, expr: string): string {
  return `${expr} and on (instance) ${clusterInfo(spec)}`;
}
