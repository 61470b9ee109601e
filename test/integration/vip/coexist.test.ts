// Two clusters behind one LB host (issue 19 item 11): two `serve` processes, each with its own VIP, virtual router
// id, advertisement port (vip.port), admin port and listener port, hold their VIPs side by side and carry their
// own clients; without its own vip.port the second is refused with the field to change.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { requireOrSkip, ROOT } from '../../helpers/cli.js';
import { canUseNamespaces, Lab, type Proc } from '../../helpers/lab.js';

const CLI = join(ROOT, 'src/cli/main.ts');
let lab: Lab | undefined;
let ok = false;
const dir = mkdtempSync(join(tmpdir(), 'ce-coexist-'));

before(async () => {
  ok = await canUseNamespaces();
  if (ok) lab = await Lab.create({ segments: { lan: 1 }, hosts: { lb: { lan: 2 }, cp: { lan: 21 }, client: { lan: 9 } } }, 'cecox');
});

after(async () => {
  await lab?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

function spec(l: Lab, cluster: string, vip: number, vrid: number, port: number, admin: number, vipPort?: number): string {
  const net = l.addressOf('lb').split('.').slice(0, 3).join('.');
  return `cluster: { name: ${cluster} }
endpoint: ${net}.${vip}
controlPlane:
  - { name: cp-01, address: ${l.addressOf('cp')} }
listeners:
  - { name: kubernetes, port: ${port}, targetPort: ${port}, targets: controlPlane }
healthCheck: { type: tcp, interval: 200ms, timeout: 100ms, healthyThreshold: 1, unhealthyThreshold: 2 }
deregistrationDelay: 1s
balancer: { admin: 127.0.0.1:${admin}, watch: false }
vip:
  address: ${net}.${vip}
  virtualRouterId: ${vrid}
  advertInterval: 100ms
  authKey: coexist-key-0123456789
${vipPort ? `  port: ${vipPort}\n` : ''}  peers:
    - { name: lb, address: ${l.addressOf('lb')}, priority: 100 }
`;
}

async function serve(l: Lab, name: string, text: string): Promise<Proc> {
  const path = join(dir, `${name}.yaml`);
  await writeFile(path, text);
  return l.spawn('lb', [process.execPath, '--import', 'tsx', CLI, 'serve', '-c', path, '--peer', 'lb'], { env: { CLUSTER_ENDPOINT_LOG_LEVEL: 'info' }, cwd: ROOT });
}

async function fetch(l: Lab, host: string, port: number): Promise<string> {
  const code = `const s = require('net').connect(${port}, ${JSON.stringify(host)}); let d = ''; s.on('data', (c) => { d += c; }); s.on('end', () => { console.log(d.trim()); process.exit(0); }); s.on('error', (e) => { console.log('error ' + e.code); process.exit(0); }); setTimeout(() => { console.log('timeout'); process.exit(0); }, 2000);`;
  return (await l.exec('client', [process.execPath, '-e', code])).trim();
}

test('two serves on one LB host hold their own VIPs side by side (vip.port, virtualRouterId, ports of their own)', { timeout: 60_000 }, async (t) => {
  if (!requireOrSkip(t, ok, 'needs root and `ip netns`')) return;
  const l = lab!;
  const net = l.addressOf('lb').split('.').slice(0, 3).join('.');
  const standIn = `for (const port of [6443, 7443]) require('net').createServer((s) => { s.on('error', () => {}); s.end('cp-01 ' + port + '\\n'); }).listen(port, '0.0.0.0'); console.log('listening');`;
  await l.spawn('cp', [process.execPath, '-e', standIn]).waitForLine((line) => line.text === 'listening');
  const alpha = await serve(l, 'alpha', spec(l, 'alpha', 100, 51, 6443, 8404));
  await alpha.waitForLine((line) => line.json?.msg === 'vip added', 20_000);
  // The same advertisement port on the same address: refused, naming the field.
  const clash = await serve(l, 'clash', spec(l, 'clash', 102, 53, 8443, 8406));
  assert.notEqual(await clash.exited, 0);
  assert.match(clash.lines.map((line) => line.text).join('\n'), /cannot bind the VIP advertisement socket to [\d.]+:5798: EADDRINUSE[\s\S]*vip\.port/);
  const beta = await serve(l, 'beta', spec(l, 'beta', 101, 52, 7443, 8405, 5799));
  await beta.waitForLine((line) => line.json?.msg === 'vip added', 20_000);
  const onEth0 = await l.exec('lb', ['ip', '-j', 'addr', 'show', 'dev', 'eth0']);
  assert.match(onEth0, new RegExp(`"${net.replace(/\./g, '\\.')}\\.100"`));
  assert.match(onEth0, new RegExp(`"${net.replace(/\./g, '\\.')}\\.101"`));
  assert.equal(await fetch(l, `${net}.100`, 6443), 'cp-01 6443');
  assert.equal(await fetch(l, `${net}.101`, 7443), 'cp-01 7443');
  assert.equal(alpha.child.exitCode, null, 'the first serve keeps running');
});
