// `npm run bench`: every benchmark, one after the other, each writing its own section of BENCHMARKS.md.
//   npm run bench [-- SECTION ...] [-- OPTIONS]      e.g. npm run bench -- kernel failover, npm run bench -- lb --quick
// Sections (each also runs alone with its own script, see package.json): lb, kernel, vip, failover, bgp, health, admin, drill.
// Options after the section names go to every section that is run. Most sections need root (namespaces).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const TSX = [process.execPath, '--import', 'tsx'];

const SECTIONS: Record<string, { what: string; command: string[] }> = {
  lb: { what: 'built-in balancer vs HAProxy on loopback (issue 2)', command: [process.execPath, 'dist/bench/run.js'] },
  kernel: { what: 'kernel data plane vs direct path, proxy and HAProxy (issue 10)', command: [process.execPath, 'dist/bench/kernel.js'] },
  vip: { what: 'VIP failover, serve vs Keepalived (issue 4)', command: [...TSX, 'bench/vip-failover.ts'] },
  failover: { what: 'established connections across the loss of an LB host (issue 11)', command: [...TSX, 'bench/failover.ts'] },
  bgp: { what: 'BGP failover with and without BFD (issue 12)', command: [...TSX, 'bench/bgp-failover.ts'] },
  health: { what: 'health checks at scale, serve vs HAProxy (issue 9)', command: [process.execPath, 'dist/bench/health-scale.js'] },
  admin: { what: 'new connections while the admin surface is hammered, serve now vs before vs HAProxy (issue 24)', command: [process.execPath, 'dist/bench/admin-hammered.js'] },
  drill: { what: 'rolling-upgrade drill, serve vs HAProxy (issue 9)', command: [...TSX, 'bench/rolling-upgrade.ts'] },
};

const args = process.argv.slice(2);
const names = args.filter((a) => !a.startsWith('-') && a in SECTIONS);
const options = args.filter((a) => !names.includes(a));
const unknown = options.filter((a) => !a.startsWith('-') && !/^\d+$/.test(a));
if (unknown.length > 0) {
  process.stderr.write(`bench: unknown section ${unknown.join(', ')}; sections: ${Object.keys(SECTIONS).join(', ')}\n`);
  process.exit(2);
}
const selected = names.length > 0 ? names : Object.keys(SECTIONS);
let failed = 0;
for (const name of selected) {
  const { what, command } = SECTIONS[name];
  process.stdout.write(`\n=== bench ${name}: ${what}\n`);
  const result = spawnSync(command[0], [...command.slice(1), ...options], { cwd: ROOT, stdio: 'inherit' });
  if (result.status !== 0) {
    failed++;
    process.stderr.write(`bench ${name} failed (exit ${result.status ?? result.signal})\n`);
  }
}
process.exit(failed > 0 ? 1 : 0);
