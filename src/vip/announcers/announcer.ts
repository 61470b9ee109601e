/**
 * Puts the VIP on this host and takes it off. Both operations are idempotent and report whether they changed
 * anything, so the manager can call release() at start-up and after every lost election without checking first.
 */
export interface Announcer {
  /** Adds the address (when missing) and announces it to the segment (gratuitous ARP / unsolicited NA). */
  acquire(): Promise<boolean>;
  /** Removes the address when present and stops any pending announcements. */
  release(): Promise<boolean>;
  /** Gets ready before the first election (helper processes, tool detection). */
  prepare?(): Promise<void>;
  /** Frees helper processes; the address is left as it is. */
  close?(): void;
}
