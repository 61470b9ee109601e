// Golden files for `render haproxy`: test/golden/render/<case>/haproxy/haproxy.cfg (UPDATE_GOLDEN=1 rewrites).
import { test } from 'node:test';
import { haproxyRenderer } from '../../../src/render/haproxy/index.js';
import { assertGolden, caseSpec, GOLDEN_CONTEXT } from './golden.js';

const BARE_METAL_CASES = ['bare-metal-tcp', 'bare-metal-https-client-cert', 'bare-metal-workers', 'bare-metal-nopreempt'] as const;

for (const name of BARE_METAL_CASES) {
  test(`haproxy golden: ${name}`, () => {
    assertGolden(name, 'haproxy', haproxyRenderer.render(caseSpec(name), GOLDEN_CONTEXT));
  });
}
