import { defineRule } from '../../context.js';
import { machineType, TALOS_VIP_DOCS, vips } from './machine-config.js';

/** The Talos VIP is elected through etcd, which only control-plane nodes run: on a worker it never comes up. */
export const talosVipOnWorker = defineRule({
  id: 'talos/vip-on-worker',
  kind: 'talos',
  check(file) {
    const type = machineType(file);
    if (type?.value !== 'worker') return [];
    return vips(file).map((vip) => ({
      severity: 'error' as const,
      line: vip.line,
      message: `the VIP ${vip.value} is in a worker's machine config (machine.type: worker on line ${type.line})`,
      why: 'Talos elects the VIP holder through etcd, which runs only on control-plane nodes; a worker waits for etcd forever and never announces the VIP (and the VIP must point at kube-apiserver, which workers do not run)',
      source: `${TALOS_VIP_DOCS} ("a shared IP address among control plane nodes") ; https://github.com/siderolabs/talos/blob/main/internal/app/machined/pkg/controllers/network/operator/vip.go (election through etcd)`,
      fix: 'remove the VIP from the worker configuration; put it only in the control-plane patch',
    }));
  },
});
