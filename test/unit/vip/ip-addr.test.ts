// IpAddrAnnouncer with a recorded command runner: which commands run, idempotence, arping flavours, errors.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { UserError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/log.js';
import type { CommandResult } from '../../../src/vip/announcers/command.js';
import { arpingArgs, IpAddrAnnouncer } from '../../../src/vip/announcers/ip-addr.js';

function fakeHost(options: { arpingHelp?: string; arpingMissing?: boolean; addFails?: string } = {}) {
  const addresses = new Set<string>();
  const calls: string[] = [];
  const run = async (file: string, args: string[]): Promise<CommandResult> => {
    calls.push([file, ...args].join(' '));
    if (file === 'arping') {
      if (options.arpingMissing) return { code: -2, stdout: '', stderr: '', missing: true };
      if (args[0] === '--help') return { code: 0, stdout: options.arpingHelp ?? 'ARPing 2.23, by Thomas Habets', stderr: '' };
      return { code: 1, stdout: '', stderr: '' };
    }
    if (args[0] === '-j') return { code: 0, stdout: JSON.stringify([{ addr_info: [...addresses].map((local) => ({ local })) }]), stderr: '' };
    // Like iproute2: adding an existing address or deleting a missing one fails with these messages.
    const address = args[2]?.split('/')[0];
    if (args[1] === 'add') {
      if (options.addFails) return { code: 2, stdout: '', stderr: options.addFails };
      if (addresses.has(address)) return { code: 2, stdout: '', stderr: 'RTNETLINK answers: File exists' };
      addresses.add(address);
      return { code: 0, stdout: '', stderr: '' };
    }
    if (args[1] === 'del') {
      if (!addresses.delete(address)) return { code: 2, stdout: '', stderr: 'RTNETLINK answers: Cannot assign requested address' };
      return { code: 0, stdout: '', stderr: '' };
    }
    return { code: 1, stdout: '', stderr: 'unexpected' };
  };
  return { run, calls, addresses };
}
const settle = () => new Promise((r) => setTimeout(r, 20));

describe('IpAddrAnnouncer', () => {
  it('adds once, announces at each delay, releases once (idempotent, reports changes)', async () => {
    const host = fakeHost();
    const a = new IpAddrAnnouncer({ address: '10.9.0.100', prefixLength: 24, interface: 'eth0', family: 4, logger: silentLogger, announceDelaysMs: [0, 30], run: host.run });
    assert.equal(await a.acquire(), true);
    assert.equal(await a.acquire(), false, 'second acquire changes nothing');
    await new Promise((r) => setTimeout(r, 80));
    assert.deepEqual([...host.addresses], ['10.9.0.100']);
    const arps = host.calls.filter((c) => c.startsWith('arping -q'));
    assert.equal(arps.length, 3, 'a second acquire restarts the schedule: 0 ms (first), then 0 and 30 ms (second)');
    assert.equal(arps[0], 'arping -q -U -S 10.9.0.100 -c 1 -w 1 -i eth0 10.9.0.100');
    assert.equal(await a.present(), true);
    assert.equal(await a.release(), true);
    assert.equal(await a.release(), false);
    assert.equal(await a.present(), false);
    assert.ok(host.calls.includes('ip addr add 10.9.0.100/24 dev eth0'));
  });

  it('release cancels announcements still pending', async () => {
    const host = fakeHost();
    const a = new IpAddrAnnouncer({ address: '10.9.0.100', prefixLength: 24, interface: 'eth0', family: 4, logger: silentLogger, announceDelaysMs: [40], run: host.run });
    await a.acquire();
    await a.release();
    await new Promise((r) => setTimeout(r, 80));
    assert.equal(host.calls.filter((c) => c.startsWith('arping -q')).length, 0);
  });

  it('uses iputils flags for iputils arping, nodad for IPv6, and survives a missing arping', async () => {
    assert.deepEqual(arpingArgs('iputils', 'ens3', '10.0.0.5'), ['-q', '-U', '-c', '1', '-w', '1', '-I', 'ens3', '10.0.0.5']);
    const iputils = fakeHost({ arpingHelp: 'Usage: arping [-AbDfhqUV] [-c count] [-w timeout] [-I device]' });
    await new IpAddrAnnouncer({ address: '10.9.0.100', prefixLength: 24, interface: 'eth0', family: 4, logger: silentLogger, announceDelaysMs: [0], run: iputils.run }).acquire();
    await settle();
    assert.ok(iputils.calls.includes('arping -q -U -c 1 -w 1 -I eth0 10.9.0.100'));
    const v6 = fakeHost();
    await new IpAddrAnnouncer({ address: 'fd00::100', prefixLength: 64, interface: 'eth0', family: 6, logger: silentLogger, announceDelaysMs: [0], run: v6.run }).acquire();
    await settle();
    assert.ok(v6.calls.includes('ip addr add fd00::100/64 dev eth0 nodad'));
    assert.ok(v6.calls.includes('ndptool -t na -U -i eth0 -T fd00::100 send'), v6.calls.join('\n'));
    const missing = fakeHost({ arpingMissing: true });
    assert.equal(await new IpAddrAnnouncer({ address: '10.9.0.100', prefixLength: 24, interface: 'eth0', family: 4, logger: silentLogger, announceDelaysMs: [0], run: missing.run }).acquire(), true);
  });

  it('prepare() refuses an interface that does not exist, naming vip.interface', async () => {
    const run = async (_file: string, args: string[]): Promise<CommandResult> => (args[0] === 'link' ? { code: 1, stdout: '', stderr: 'Device "eth9" does not exist.' } : { code: 0, stdout: '', stderr: '' });
    const a = new IpAddrAnnouncer({ address: '10.9.0.100', prefixLength: 24, interface: 'eth9', family: 4, logger: silentLogger, run });
    await assert.rejects(a.prepare(), (e: unknown) => e instanceof UserError && /interface eth9 \(vip.interface\) does not exist/.test(e.message));
  });

  it('turns an ip failure into a UserError with a hint', async () => {
    const host = fakeHost({ addFails: 'Cannot find device "eth9"' });
    const a = new IpAddrAnnouncer({ address: '10.9.0.100', prefixLength: 24, interface: 'eth9', family: 4, logger: silentLogger, run: host.run });
    await assert.rejects(a.acquire(), (e: unknown) => e instanceof UserError && e.code === 'VIP' && /Cannot find device/.test(e.message) && /vip.interface/.test(e.hint ?? ''));
  });
});
