import { isIP } from 'node:net';

/** Expands an IPv4 or IPv6 address to its bytes (IPv4 as 4 bytes, IPv6 as 16). */
export function addressBytes(address: string): number[] {
  if (isIP(address) === 4) return address.split('.').map(Number);
  const [head, tail = ''] = address.includes('::') ? address.split('::') : [address, undefined];
  const parse = (part: string | undefined): string[] => (part ? part.split(':') : []);
  const headGroups = parse(head);
  let tailGroups = parse(tail);
  // An embedded IPv4 tail ("::ffff:10.0.0.1") is two groups.
  const last = tailGroups.length ? tailGroups[tailGroups.length - 1] : headGroups[headGroups.length - 1];
  if (last && last.includes('.')) {
    const v4 = last.split('.').map(Number);
    const groups = [((v4[0] << 8) | v4[1]).toString(16), ((v4[2] << 8) | v4[3]).toString(16)];
    if (tailGroups.length) tailGroups = [...tailGroups.slice(0, -1), ...groups];
    else headGroups.splice(headGroups.length - 1, 1, ...groups);
  }
  const fill = address.includes('::') ? 8 - headGroups.length - tailGroups.length : 0;
  const groups = [...headGroups, ...Array<string>(fill).fill('0'), ...tailGroups];
  return groups.flatMap((g) => { const n = parseInt(g, 16); return [n >> 8, n & 0xff]; });
}

/** Orders addresses numerically (VRRP breaks priority ties by the higher primary address). */
export function compareAddresses(a: string, b: string): number {
  const x = addressBytes(a);
  const y = addressBytes(b);
  if (x.length !== y.length) return x.length - y.length;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return 0;
}
