// Golden files for `render bird` (test/golden/render/<case>/bird/) and the config serve writes for BIRD; BIRD 2
// itself parses each rendered bird.conf (`bird -p`) when it is installed.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { birdConfig, peerProtocol } from '../../../src/bgp/config.js';
import { birdRenderer } from '../../../src/render/bird/index.js';
import { requireOrSkip } from '../../helpers/cli.js';
import { assertGolden, caseSpec, GOLDEN_CONTEXT, loadSpec, renderError } from '../render/golden.js';

const CASES = ['bgp-bird', 'bgp-bird-ipv6'] as const;

function birdAvailable(): boolean {
  try { execFileSync('bird', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; }
}

for (const name of CASES) {
  test(`bird golden: ${name}`, (t) => {
    const files = birdRenderer.render(caseSpec(name), GOLDEN_CONTEXT);
    assertGolden(name, 'bird', files);
    if (!requireOrSkip(t, birdAvailable(), 'bird (Debian bird2) is not installed: the rendered config is not parsed by BIRD')) return;
    const dir = mkdtempSync(join(tmpdir(), 'ce-bird-'));
    try {
      const conf = join(dir, 'bird.conf');
      writeFileSync(conf, files.find((f) => f.path === 'bird.conf')!.contents);
      execFileSync('bird', ['-p', '-c', conf], { stdio: 'pipe' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('bird config: the endpoint starts withdrawn, BFD and timers follow the spec, peers get BIRD-safe names', () => {
  const spec = caseSpec('bgp-bird');
  const text = birdConfig({ endpoint: spec.endpoint, bgp: spec.bgp!, log: 'stderr', header: [] });
  assert.match(text, /protocol static endpoint \{\n  disabled;\n  ipv4;\n  route 10\.96\.0\.10\/32 blackhole;/);
  assert.match(text, /interval 100 ms;\n    multiplier 3;/);
  assert.match(text, /hold time 9;\n  keepalive time 3;/);
  assert.match(text, /graceful restart off;/);
  assert.match(text, /router id from -"lo", "\*";/);
  assert.equal(peerProtocol({ name: 'tor-1' }), 'peer_tor_1');
  const noBfd = birdConfig({ endpoint: spec.endpoint, bgp: { ...spec.bgp!, bfd: false }, log: 'stderr', header: [] });
  assert.doesNotMatch(noBfd, /bfd/);
});

test('render bird: a spec without bgp is refused with a hint', () => {
  const error = renderError(() => birdRenderer.render(loadSpec('cluster: { name: x }\nendpoint: 10.0.0.1\ncontrolPlane: [{ name: cp-01, address: 10.0.0.2 }]\n'), GOLDEN_CONTEXT));
  assert.equal(error.code, 'RENDER');
  assert.match(error.message, /needs a bgp section/);
  assert.ok(error.hint);
});
