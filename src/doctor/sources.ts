// Sources several rules cite.

/** kube-apiserver's health endpoints: /readyz for balancers, /healthz deprecated. */
export const HEALTH_CHECKS_DOCS = 'https://kubernetes.io/docs/reference/using-api/health-checks/ ("The healthz endpoint is deprecated (since Kubernetes v1.16)")';

/** A check of kube-apiserver's deprecated /healthz (with or without a query). */
export function isHealthz(path: string): boolean {
  return /^\/healthz(\?|$)/.test(path);
}

/** Why checking /healthz is a trap, for a balancer named `who`. */
export function healthzWhy(who: string): string {
  return `kube-apiserver deprecated /healthz (since 1.16) in favour of /livez and /readyz; only /readyz turns unhealthy while the server starts, loses etcd or shuts down gracefully, so ${who} keeps sending requests it cannot serve`;
}

/** etcd's quorum: a cluster of n members survives (n-1)/2 failures. */
export const ETCD_QUORUM_DOCS = 'https://etcd.io/docs/v3.5/faq/#what-is-failure-tolerance ; https://www.talos.dev/v1.11/introduction/prodnotes/#control-plane-nodes (three control-plane nodes)';
