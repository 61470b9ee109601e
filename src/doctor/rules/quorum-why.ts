// Why one or two control-plane nodes behind an endpoint is a trap, said the same way by every syntax's
// quorum rule (spec, haproxy, terraform); `front` names what stands in front of the nodes.
export function quorumWhy(count: number, front: string): string {
  return count === 1
    ? `with one control-plane node ${front} has nothing to fail over to: it adds a hop, not availability`
    : `etcd needs a majority of its members: with two, losing either one stops etcd and the API on both nodes, so ${front} has no healthy server left`;
}
