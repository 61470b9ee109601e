// An address and a port are printed one way everywhere: joinHostPort, which brackets IPv6 ("[fd00::31]:6443").
// The source is searched for host:port built by hand, and what status, the status page and probe print is
// checked with generated IPv6 addresses.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { ProbeRow } from '../../../src/probe/run.js';
import { formatTable } from '../../../src/probe/table.js';
import { verdict } from '../../../src/probe/verdict.js';
import { renderStatusPage } from '../../../src/runtime/admin/status-page.js';
import { formatStatusText } from '../../../src/runtime/admin/status-table.js';
import { joinHostPort } from '../../../src/spec/address.js';
import { ROOT } from '../../helpers/cli.js';
import { sampleSnapshot, server } from '../admin/fixture.js';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** An unbracketed IPv6 address followed by ":port" where the bracketed form was expected. */
function bare(text: string, address: string, port: number): boolean {
  return text.split(`${address}:${port}`).slice(0, -1).some((before) => !before.endsWith('['));
}

describe('host:port', () => {
  it('is built by joinHostPort only: no `${host}:${port}` and no hand-made [v6] brackets in src/', () => {
    const found: string[] = [];
    for (const file of sources(join(ROOT, 'src'))) {
      if (file.endsWith(join('spec', 'address.ts'))) continue;
      readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
        const where = `${relative(ROOT, file)}:${i + 1}: ${line.trim()}`;
        // "kubernetes:6443" (a listener's name and port) and "workers:50000" (a target group) are not addresses.
        for (const m of line.matchAll(/\$\{([^}]+)\}:\$\{([^}]*port[^}]*)\}/gi)) if (!/(name|targets)$/i.test(m[1].trim())) found.push(where);
        if (/\[\$\{[^}]+\}\]:\$\{[^}]*port/i.test(line)) found.push(where);
      });
    }
    assert.deepEqual(found, []);
  });

  it('status, the status page and probe print IPv6 addresses in brackets', () => {
    fc.assert(fc.property(fc.ipV6(), fc.ipV6(), fc.integer({ min: 1, max: 65535 }), (bind, node, port) => {
      const snapshot = sampleSnapshot();
      snapshot.spec.endpoint = bind;
      snapshot.listeners[0].bind = bind;
      snapshot.listeners[0].port = port;
      snapshot.listeners[0].servers = [server('cp-01', node, port)];
      for (const [what, text] of [['status', formatStatusText(snapshot)], ['status page', renderStatusPage(snapshot)]] as const) {
        assert.ok(text.includes(joinHostPort(node, port)) && !bare(text, node, port), `${what}: ${node} port ${port}`);
        assert.ok(text.includes(joinHostPort(bind, port)) && !bare(text, bind, port), `${what}: ${bind} port ${port}`);
      }
      const rows: ProbeRow[] = [
        { role: 'endpoint', name: 'endpoint', address: bind, port, listener: 'kubernetes', kind: 'tcp', tcp: { ok: false, error: 'ECONNREFUSED' } },
        { role: 'node', name: 'cp-01', address: node, port, listener: 'kubernetes', kind: 'tcp', tcp: { ok: false, error: 'ECONNREFUSED' } },
      ];
      const printed = [formatTable(rows), ...verdict(rows).failures, ...verdict(rows).warnings].join('\n');
      for (const address of [bind, node]) assert.ok(printed.includes(joinHostPort(address, port)) && !bare(printed, address, port), `probe: ${address} port ${port}\n${printed}`);
    }), { numRuns: 200 });
  });
});
