// What the announcers (the VIP, BGP) see of the membership: whether this host can serve the endpoint, and
// word when that may have changed. They re-read healthy() on the word instead of polling it.

export interface EndpointHealth {
  /** True while this host can serve: not stopping, and the Kubernetes API's listener has a member up and ready. */
  healthy(): boolean;
  /**
   * Calls `listener` after anything that may change healthy() (a member's state, an admin state, a reload);
   * it may also be called when nothing changed. Returns the function that unsubscribes.
   */
  onChange(listener: () => void): () => void;
}
