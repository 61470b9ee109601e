// Sources several rules cite.

/** kube-apiserver's health endpoints: /readyz for balancers, /healthz deprecated. */
export const HEALTH_CHECKS_DOCS = 'https://kubernetes.io/docs/reference/using-api/health-checks/ ("The healthz endpoint is deprecated (since Kubernetes v1.16)")';

/** etcd's quorum: a cluster of n members survives (n-1)/2 failures. */
export const ETCD_QUORUM_DOCS = 'https://etcd.io/docs/v3.5/faq/#what-is-failure-tolerance ; https://www.talos.dev/v1.11/introduction/prodnotes/#control-plane-nodes (three control-plane nodes)';
