// Where a client on this host reaches something bound to a wildcard address.

/** The address a client on this host uses for a bind address (0.0.0.0 → 127.0.0.1, :: → ::1). */
export function connectHost(bindHost: string): string {
  if (bindHost === '0.0.0.0' || bindHost === '') return '127.0.0.1';
  if (bindHost === '::') return '::1';
  return bindHost;
}
