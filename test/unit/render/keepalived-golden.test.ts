// Golden files for `render keepalived`: test/golden/render/<case>/keepalived/<peer>/keepalived.conf.
import { test } from 'node:test';
import { keepalivedRenderer } from '../../../src/render/keepalived/index.js';
import { assertGolden, caseSpec, GOLDEN_CONTEXT } from './golden.js';

const BARE_METAL_CASES = ['bare-metal-tcp', 'bare-metal-https-client-cert', 'bare-metal-workers', 'bare-metal-nopreempt'] as const;

for (const name of BARE_METAL_CASES) {
  test(`keepalived golden: ${name}`, () => {
    assertGolden(name, 'keepalived', keepalivedRenderer.render(caseSpec(name), GOLDEN_CONTEXT));
  });
}
