// The lab's certificates: a cluster CA with a serving certificate per node and client certificates for the
// client (kubectl's admin) and for the balancers' checks; a Talos CA with an apid certificate per node and a
// talosctl client certificate. Names as Talos puts them in its certificates (siderolabs/talos
// internal/app/machined/pkg/controllers/secrets/kubernetes_cert_sans.go and api_cert_sans.go).
import { createCa, issueCertificate, type PemPair } from '../tls/certs.js';

export interface NodeNames {
  name: string;
  addresses: string[];
  /** Extra names for the Kubernetes certificate (controlPlane endpoint host, cluster.apiServer.certSANs). */
  kubernetesSans: string[];
  /** Extra names for the Talos API certificate (machine.certSANs). */
  talosSans: string[];
}

export interface LabPki {
  kubernetesCa: string;
  talosCa: string;
  nodes: Map<string, { kubernetes: PemPair; talos: PemPair }>;
  /** kubectl's certificate (O=system:masters, as an admin kubeconfig has). */
  admin: PemPair;
  /** A certificate for the balancers' checks (an authenticated user with no other rights). */
  check: PemPair;
  talosctl: PemPair;
}

const KUBERNETES_NAMES = ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local', 'localhost'];

export async function issueLabPki(nodes: NodeNames[]): Promise<LabPki> {
  const kubernetes = await createCa('rehearsal kubernetes CA', 2);
  const talos = await createCa('rehearsal talos CA', 2);
  const issued = new Map<string, { kubernetes: PemPair; talos: PemPair }>();
  for (const node of nodes) {
    const unique = (values: string[]) => [...new Set(values.filter(Boolean))];
    issued.set(node.name, {
      kubernetes: await issueCertificate(kubernetes, { commonName: 'kube-apiserver', days: 2, sans: unique([...node.kubernetesSans, ...KUBERNETES_NAMES, node.name, ...node.addresses, '127.0.0.1']) }),
      talos: await issueCertificate(talos, { commonName: node.name, days: 2, sans: unique([...node.talosSans, node.name, ...node.addresses, '127.0.0.1']) }),
    });
  }
  return {
    kubernetesCa: kubernetes.cert, talosCa: talos.cert, nodes: issued,
    admin: await issueCertificate(kubernetes, { commonName: 'rehearsal-admin', organization: 'system:masters', days: 2, sans: [], client: true }),
    check: await issueCertificate(kubernetes, { commonName: 'rehearsal-health-check', days: 2, sans: [], client: true }),
    talosctl: await issueCertificate(talos, { commonName: 'rehearsal-talosctl', organization: 'os:admin', days: 2, sans: [], client: true }),
  };
}
