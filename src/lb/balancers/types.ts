/** What a balancing strategy sees of a server. */
export interface Pickable {
  readonly key: string;
  readonly weight: number;
  readonly activeConnections: number;
}

export interface PickContext {
  /** Downstream (client) address, for source hashing. */
  clientAddress: string;
}

/** A balancing strategy: picks one of the candidates the backend found eligible. */
export interface Balancer {
  pick<T extends Pickable>(candidates: readonly T[], context: PickContext): T | undefined;
}
