// IPv4 arithmetic for laying out a lab on the subnets the user's files name.

export interface Subnet { network: number; prefix: number }

export function toInt(address: string): number {
  return address.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

export function toAddress(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

export function isIpv4(address: string): boolean {
  const parts = address.split('.');
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

export function subnetOf(address: string, prefix: number): Subnet {
  const size = 2 ** (32 - prefix);
  return { network: Math.floor(toInt(address) / size) * size, prefix };
}

export function contains(subnet: Subnet, address: string): boolean {
  const size = 2 ** (32 - subnet.prefix);
  const n = toInt(address);
  return n >= subnet.network && n < subnet.network + size;
}

export function cidr(subnet: Subnet): string {
  return `${toAddress(subnet.network)}/${subnet.prefix}`;
}

/** Usable host addresses of the subnet in the order given (from the top when `fromTop`), skipping `used`. */
export function freeAddress(subnet: Subnet, used: ReadonlySet<string>, preferred: number[] = [], fromTop = false): string | undefined {
  const size = 2 ** (32 - subnet.prefix);
  const candidates = [...preferred.filter((offset) => offset > 0 && offset < size - 1)];
  for (let i = 1; i < size - 1 && candidates.length < 4096; i++) candidates.push(fromTop ? size - 1 - i : i);
  for (const offset of candidates) {
    const address = toAddress(subnet.network + offset);
    if (!used.has(address)) return address;
  }
  return undefined;
}
