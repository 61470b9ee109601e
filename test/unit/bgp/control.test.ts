// BIRD's control-socket replies, recorded from BIRD 2.0.12, read by code and field name; and the control
// client against a real BIRD when one is installed.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { birdCommand, BirdControlError, parseReply } from '../../../src/bgp/control.js';
import { parseBfdSessions, parseProtocols, parseRouterId } from '../../../src/bgp/state.js';
import { BirdSupervisor } from '../../../src/bgp/supervisor.js';
import { UserError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/log.js';
import { requireOrSkip } from '../../helpers/cli.js';

const PROTOCOLS_ALL = `2002-Name       Proto      Table      State  Since         Info
1002-device1    Device     ---        up     10:00:27.951  
1006-
1002-endpoint   Static     master4    up     10:00:27.951  
1006-  Channel ipv4
     State:          UP
     Routes:         1 imported, 0 exported, 1 preferred
1002-peer_tor   BGP        ---        up     10:00:31.788  Established   
1006-  BGP state:          Established
     Neighbor address: 10.250.1.1
     Neighbor AS:      65000
   Channel ipv4
     State:          UP
     Routes:         0 imported, 1 exported, 0 preferred
1002-peer_tor_2 BGP        ---        start  10:00:19.132  Active        Socket: Connection refused
1006-  BGP state:          Active
     Neighbor address: 10.250.2.1
     Last error:       Socket: Connection refused
   Channel ipv4
     State:          DOWN
0000 
`;

test('parseReply: coded lines, continuation lines, and only a final line ends a reply', () => {
  assert.equal(parseReply('1002-a\n'), undefined);
  const reply = parseReply(PROTOCOLS_ALL)!;
  assert.equal(reply.code, 0);
  assert.equal(reply.lines.filter((l) => l.code === 1002).length, 4);
  assert.deepEqual(parseReply('9001 syntax error, unexpected CF_SYM_UNDEFINED\n'), { code: 9001, lines: [{ code: 9001, text: 'syntax error, unexpected CF_SYM_UNDEFINED' }] });
});

test('parseProtocols: BGP state, last error and exported routes per protocol', () => {
  const protocols = parseProtocols(parseReply(PROTOCOLS_ALL)!);
  const byName = new Map(protocols.map((p) => [p.name, p]));
  assert.deepEqual(byName.get('peer_tor'), { name: 'peer_tor', proto: 'BGP', state: 'up', fields: { 'BGP state': 'Established', 'Neighbor address': '10.250.1.1', 'Neighbor AS': '65000', State: 'UP' }, exported: 1 });
  assert.equal(byName.get('peer_tor_2')?.fields['Last error'], 'Socket: Connection refused');
  assert.equal(byName.get('peer_tor_2')?.exported, 0);
  assert.equal(byName.get('endpoint')?.exported, 0);
});

test('parseBfdSessions and parseRouterId', () => {
  const bfd = parseReply('1020-bfd1:\n IP address                Interface  State      Since         Interval  Timeout\n 10.250.1.1                bxv1       Up         10:00:28.262    0.100    0.300\n 10.250.2.1                bxv2       Down       10:00:29.000    1.000    0.000\n0000 \n')!;
  assert.deepEqual([...parseBfdSessions(bfd)], [['10.250.1.1', 'Up'], ['10.250.2.1', 'Down']]);
  const status = parseReply('1000-BIRD 2.0.12\n1011-Router ID is 10.250.1.2\n Hostname is vm\n0013 Daemon is up and running\n')!;
  assert.equal(parseRouterId(status), '10.250.1.2');
});

test('a missing BIRD is a clear error with exit code 2', async () => {
  const supervisor = new BirdSupervisor({ runDirectory: join(tmpdir(), 'ce-bgp-missing'), logger: silentLogger, bird: 'bird-that-is-not-installed' });
  await assert.rejects(supervisor.start(''), (error: unknown) => {
    assert.ok(error instanceof UserError);
    assert.equal(error.code, 'BGP');
    assert.equal(error.exitCode, 2);
    assert.match(error.message, /"bird-that-is-not-installed" \(BIRD 2\) is not installed/);
    assert.match(error.hint ?? '', /apt-get install bird2/);
    return true;
  });
});

test('birdCommand against a real BIRD: a command, an error reply, and a socket nobody listens on', async (t) => {
  const ok = await new Promise<boolean>((resolve) => { const p = spawn('bird', ['--version']); p.on('error', () => resolve(false)); p.on('exit', (code) => resolve(code === 0)); });
  if (!requireOrSkip(t, ok, 'bird (Debian bird2) is not installed')) return;
  const dir = mkdtempSync(join(tmpdir(), 'ce-birdctl-'));
  const conf = join(dir, 'bird.conf');
  // No device protocol and no sessions: BIRD needs no privileges and touches no network.
  writeFileSync(conf, 'router id 192.0.2.1;\nprotocol static endpoint { disabled; ipv4; route 192.0.2.10/32 blackhole; }\n');
  const socket = join(dir, 'bird.ctl');
  const bird = spawn('bird', ['-f', '-c', conf, '-s', socket, '-P', join(dir, 'bird.pid')], { stdio: 'ignore' });
  try {
    let status;
    for (let i = 0; i < 50 && !status; i++) {
      try { status = await birdCommand(socket, 'show status'); } catch { await new Promise((r) => setTimeout(r, 50)); }
    }
    assert.equal(parseRouterId(status!), '192.0.2.1');
    assert.deepEqual((await birdCommand(socket, 'enable endpoint')).lines[0], { code: 11, text: 'endpoint: enabled' });
    assert.equal(parseProtocols(await birdCommand(socket, 'show protocols all endpoint'))[0].state, 'up');
    assert.ok((await birdCommand(socket, 'disable nosuch')).code >= 8000);
    await assert.rejects(birdCommand(join(dir, 'nothing.ctl'), 'show status'), BirdControlError);
  } finally {
    bird.kill('SIGTERM');
    await new Promise((r) => bird.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
});
