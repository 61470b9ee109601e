import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { describe, it } from 'node:test';
import { getReferencesInExpression, parse } from '@cdktn/hcl2json';
import { RenderRefused } from '../../../src/render/refusals.js';
import { awsRenderer } from '../../../src/render/terraform-aws/index.js';
import type { RenderedFile } from '../../../src/render/types.js';
import type { Spec } from '../../../src/spec/types.js';
import { requireOrSkip, runCli } from '../../helpers/cli.js';
import { GOLDEN_CONTEXT, assertGolden, caseSpec, loadSpec, renderError, specText } from './golden.js';

type Block = Record<string, any>;
interface Scope { dir: string; variables: Record<string, Block>; locals: Record<string, unknown>; resources: Record<string, Record<string, Block>>; data: Record<string, Record<string, Block>>; outputs: Record<string, Block>; modules: Record<string, Block>; files: Array<{ path: string; json: Block }> }

const MODULE = 'modules/aws/loadbalancer';
const ROOT = 'cluster/aws';

async function scopeOf(files: RenderedFile[], dir: string): Promise<Scope> {
  const scope: Scope = { dir, variables: {}, locals: {}, resources: {}, data: {}, outputs: {}, modules: {}, files: [] };
  for (const file of files.filter((f) => dirname(f.path) === dir && f.path.endsWith('.tf'))) {
    const json = await parse(file.path, file.contents);
    scope.files.push({ path: file.path, json });
    for (const [name, blocks] of Object.entries(json.variable ?? {})) scope.variables[name] = (blocks as Block[])[0];
    for (const block of (json.locals ?? []) as Block[]) Object.assign(scope.locals, block);
    for (const [type, byName] of Object.entries(json.resource ?? {})) {
      for (const [name, blocks] of Object.entries(byName as Block)) (scope.resources[type] ??= {})[name] = (blocks as Block[])[0];
    }
    for (const [type, byName] of Object.entries(json.data ?? {})) {
      for (const [name, blocks] of Object.entries(byName as Block)) (scope.data[type] ??= {})[name] = (blocks as Block[])[0];
    }
    for (const [name, blocks] of Object.entries(json.output ?? {})) scope.outputs[name] = (blocks as Block[])[0];
    for (const [name, blocks] of Object.entries(json.module ?? {})) scope.modules[name] = (blocks as Block[])[0];
  }
  return scope;
}

/** Every `${...}` expression string in a parsed file, skipping variable types (`${string}` is a type, not a reference). */
function expressions(node: unknown, out: string[] = [], key = ''): string[] {
  if (typeof node === 'string') { if (node.includes('${') && key !== 'type') out.push(node); } else if (Array.isArray(node)) node.forEach((n) => expressions(n, out, key));
  else if (node && typeof node === 'object') for (const [k, v] of Object.entries(node)) expressions(v, out, k);
  return out;
}

// getReferencesInExpression runs in WebAssembly (~25 ms a call); many expressions repeat.
const referenceCache = new Map<string, ReturnType<typeof getReferencesInExpression>>();
const referencesIn = (file: string, expression: string) => {
  let cached = referenceCache.get(expression);
  if (!cached) { cached = getReferencesInExpression(file, expression); referenceCache.set(expression, cached); }
  return cached;
};

const ITERATORS = new Set(['each', 'count', 'ingress', 'egress', 'self', 'path', 'terraform']);

/** The references in a scope that point at nothing defined (besides the allowed external ones). */
async function unresolved(scope: Scope, scopes: Record<string, Scope>, external: string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const file of scope.files) {
    for (const expression of expressions(file.json)) {
      for (const reference of await referencesIn(file.path, expression)) {
        const parts = reference.value.replace(/\[[^\]]*\]/g, '').split('.');
        const [head, second, third] = parts;
        let ok = false;
        if (ITERATORS.has(head)) ok = true;
        else if (head === 'var') ok = second in scope.variables;
        else if (head === 'local') ok = second in scope.locals;
        else if (head === 'data') ok = scope.data[second]?.[third] !== undefined;
        else if (head === 'module') {
          const call = scope.modules[second];
          const target = call && scopes[posix.normalize(posix.join(scope.dir, call.source))];
          ok = target !== undefined && third in target.outputs;
        } else ok = scope.resources[head]?.[second] !== undefined;
        if (!ok && !external.some((e) => reference.value.startsWith(e))) missing.push(`${file.path}: ${reference.value}`);
      }
    }
  }
  return missing;
}

const ref = (value: unknown) => String(value).replace(/^\$\{(.*)\}$/, '$1');

async function renderAndParse(spec: Spec) {
  const files = awsRenderer.render(spec, GOLDEN_CONTEXT);
  const module = await scopeOf(files, MODULE);
  const root = await scopeOf(files, ROOT);
  const tfvarsFile = files.find((f) => f.path.endsWith('aws.tfvars'));
  assert.ok(tfvarsFile);
  const tfvars = await parse('aws.tfvars', tfvarsFile.contents);
  return { files, module, root, tfvars, scopes: { [MODULE]: module, [ROOT]: root } };
}

const ROLE_RESOURCE: Record<string, string> = { kubernetes: 'kubernetes_api', talos: 'talos_api', 'talos-workers': 'talos_workers_api' };
const ROLE_SUFFIX: Record<string, string> = { kubernetes: '-talos-api-tg', talos: '-talos-apid-tg', 'talos-workers': '-talos-wk-apid-tg' };

for (const caseName of ['aws-guide', 'aws-readyz']) {
  describe(`render aws: ${caseName}`, () => {
    const spec = caseSpec(caseName);
    let parsed: ReturnType<typeof renderAndParse> | undefined;
    const rendered = () => (parsed ??= renderAndParse(spec));
    const external = [spec.aws!.vpcId, ...spec.aws!.subnetIds].filter((v): v is string => !!v && v.startsWith('module.')).map((v) => v.replace(/\[.*$/, ''));

    it('matches the golden files', () => {
      assertGolden(caseName, 'aws', awsRenderer.render(spec, GOLDEN_CONTEXT));
    });

    it('writes the guide\'s files, each with the header', () => {
      const files = awsRenderer.render(spec, GOLDEN_CONTEXT);
      assert.deepEqual(files.map((f) => f.path), [
        `${MODULE}/versions.tf`, `${MODULE}/variables.tf`, `${MODULE}/main.tf`, `${MODULE}/outputs.tf`,
        `${ROOT}/loadbalancer.tf`, `${ROOT}/loadbalancer-variables.tf`, 'cluster/envs/aws.tfvars',
      ]);
      for (const file of files) assert.match(file.contents, /^# Generated by cluster-endpoint 0\.0\.0-golden from endpoint\.yaml\./);
    });

    it('has the NLB, security group, target groups and the guide\'s outputs', async () => {
      const { module, root } = await rendered();
      const nlb = module.resources.aws_lb?.kubernetes_api;
      assert.ok(nlb, 'aws_lb.kubernetes_api');
      assert.equal(nlb.name, '${var.environment}-talos-api-nlb');
      assert.equal(nlb.load_balancer_type, 'network');
      assert.equal(nlb.internal, '${var.internal}');
      // The security group is created with the NLB (adding one later replaces the NLB).
      assert.match(String(nlb.security_groups), /aws_security_group\.nlb\.id/);
      const sg = module.resources.aws_security_group?.nlb;
      assert.ok(sg);
      for (const listener of spec.listeners) {
        assert.ok(sg.ingress.some((r: Block) => r.from_port <= listener.port && listener.port <= r.to_port), `ingress for ${listener.port}`);
        assert.ok(sg.egress.some((r: Block) => r.from_port <= listener.targetPort && listener.targetPort <= r.to_port), `egress to ${listener.targetPort}`);
      }
      for (const r of sg.ingress) assert.equal(r.cidr_blocks, '${concat(var.allowed_admin_cidrs, var.node_cidrs)}');
      for (const r of sg.egress) assert.equal(r.cidr_blocks, '${var.node_cidrs}');
      assert.deepEqual(Object.keys(module.outputs).filter((o) => !['security_group_id', 'load_balancer_zone_id'].includes(o)).sort(), [
        'kubernetes_api_endpoint', 'kubernetes_api_target_group_arn', 'load_balancer_arn', 'load_balancer_dns_name', 'talos_api_endpoint', 'talos_api_target_group_arn',
      ]);
      assert.equal(root.outputs.nlb_dns_name?.value, '${module.loadbalancer.load_balancer_dns_name}');
    });

    it('wires every spec listener to its own target group with the spec\'s ports and health check', async () => {
      const { module, root } = await rendered();
      const resources = (type: string) => ({ ...module.resources[type], ...root.resources[type] });
      const listeners = resources('aws_lb_listener');
      const groups = resources('aws_lb_target_group');
      assert.equal(Object.keys(listeners).length, spec.listeners.length);
      for (const [index, listener] of spec.listeners.entries()) {
        const name = ROLE_RESOURCE[listener.name];
        const resource = listeners[name];
        assert.ok(resource, `listener for ${listener.name}`);
        assert.equal(resource.port, listener.port);
        assert.equal(resource.protocol, 'TCP');
        assert.equal(ref(resource.default_action[0].target_group_arn), `aws_lb_target_group.${name}.arn`);
        const group = groups[name];
        assert.equal(group.port, listener.targetPort);
        assert.equal(group.name, `\${var.environment}${ROLE_SUFFIX[listener.name]}`);
        assert.equal(group.deregistration_delay, '${var.deregistration_delay}');
        assert.equal(group.preserve_client_ip, '${var.preserve_client_ip}');
        // Explicit protocol: the provider's default health check is HTTP.
        const check = group.health_check[0];
        const type = spec.listeners[index].healthCheck.type;
        assert.equal(check.protocol, type === 'https' ? 'HTTPS' : 'TCP');
        if (type === 'https') {
          assert.equal(check.path, listener.healthCheck.path);
          assert.equal(check.matcher, listener.healthCheck.expectStatuses.join(','));
        } else assert.equal(check.path, undefined);
        assert.equal(check.interval, '${var.health_check_interval}');
      }
    });

    it('attaches control-plane nodes and workers to their target groups', async () => {
      const { module, root, tfvars } = await rendered();
      const attachments = root.resources.aws_lb_target_group_attachment ?? {};
      const moduleOutputs = module.outputs;
      const attached = new Map<string, { forEach: string; port: number }>();
      for (const attachment of Object.values(attachments)) {
        let target = ref(attachment.target_group_arn);
        const viaModule = /^module\.loadbalancer\.(.+)$/.exec(target);
        if (viaModule) target = ref(moduleOutputs[viaModule[1]].value);
        attached.set(target.replace(/^aws_lb_target_group\.(.+)\.arn$/, '$1'), { forEach: ref(attachment.for_each), port: attachment.port });
      }
      for (const listener of spec.listeners) {
        const entry = attached.get(ROLE_RESOURCE[listener.name]);
        assert.ok(entry, `attachment for ${listener.name}`);
        assert.equal(entry.forEach, listener.targets === 'workers' ? 'var.worker_targets' : 'var.control_plane_targets');
        assert.equal(entry.port, listener.targetPort);
      }
      assert.deepEqual(tfvars.control_plane_targets, Object.fromEntries(spec.controlPlane.map((n) => [n.name, n.address])));
      const hasWorkerListener = spec.listeners.some((l) => l.targets === 'workers');
      assert.deepEqual(tfvars.worker_targets, hasWorkerListener ? Object.fromEntries(spec.workers.map((n) => [n.name, n.address])) : {});
    });

    it('puts the spec\'s values in aws.tfvars and sets every root variable', async () => {
      const { root, tfvars, module } = await rendered();
      assert.equal(tfvars.environment, spec.cluster.environment);
      assert.equal(tfvars.health_check_interval, spec.healthCheck.intervalMs / 1000);
      assert.equal(tfvars.health_check_timeout, spec.healthCheck.timeoutMs / 1000);
      assert.equal(tfvars.healthy_threshold, spec.healthCheck.healthyThreshold);
      assert.equal(tfvars.unhealthy_threshold, spec.healthCheck.unhealthyThreshold);
      assert.equal(tfvars.deregistration_delay, spec.deregistrationDelayMs / 1000);
      assert.equal(tfvars.preserve_client_ip, spec.aws!.preserveClientIp);
      assert.equal(tfvars.nlb_internal, spec.aws!.internal);
      assert.equal(tfvars.enable_deletion_protection, spec.aws!.deletionProtection);
      assert.equal(tfvars.enable_cross_zone_load_balancing, spec.aws!.crossZone);
      assert.deepEqual(tfvars.allowed_admin_cidrs, spec.aws!.allowedAdminCidrs);
      assert.deepEqual(Object.keys(tfvars).sort(), Object.keys(root.variables).sort(), 'tfvars sets exactly the root variables');
      // The module call passes only variables the module declares, and every one without a default.
      const call = root.modules.loadbalancer;
      const passed = Object.keys(call).filter((k) => k !== 'source');
      for (const name of passed) assert.ok(name in module.variables, `module input ${name} is declared`);
      for (const [name, variable] of Object.entries(module.variables)) if (!('default' in variable)) assert.ok(passed.includes(name), `required module input ${name} is passed`);
    });

    it('has no reference that points at nothing', async () => {
      const { module, root, scopes } = await rendered();
      assert.deepEqual(await unresolved(module, scopes, []), []);
      assert.deepEqual(await unresolved(root, scopes, external), []);
    });

    it('passes terraform fmt -check', (t) => {
      const terraform = spawnSync('terraform', ['version'], { encoding: 'utf8' });
      if (!requireOrSkip(t, terraform.status === 0, 'terraform is not on PATH')) return;
      const dir = mkdtempSync(join(tmpdir(), 'ce-aws-fmt-'));
      try {
        for (const file of awsRenderer.render(spec, GOLDEN_CONTEXT)) {
          mkdirSync(dirname(join(dir, file.path)), { recursive: true });
          writeFileSync(join(dir, file.path), file.contents);
        }
        const fmt = spawnSync('terraform', ['fmt', '-check', '-recursive', '-diff', '-no-color', dir], { encoding: 'utf8' });
        assert.equal(fmt.status, 0, `terraform fmt -check found differences:\n${fmt.stdout}${fmt.stderr}`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

describe('render aws: the reference check can fail', () => {
  it('finds a variable, a resource and a module output that do not exist', async () => {
    const files = awsRenderer.render(caseSpec('aws-guide'), GOLDEN_CONTEXT).map((f) => ({
      ...f,
      contents: f.contents
        .replace('vpc_id      = var.vpc_id', 'vpc_id      = var.vpc')
        .replace('target_group_arn = aws_lb_target_group.talos_api.arn', 'target_group_arn = aws_lb_target_group.talos.arn')
        .replace('module.loadbalancer.talos_api_target_group_arn', 'module.loadbalancer.talos_tg_arn'),
    }));
    const module = await scopeOf(files, MODULE);
    const root = await scopeOf(files, ROOT);
    const scopes = { [MODULE]: module, [ROOT]: root };
    assert.deepEqual((await unresolved(module, scopes, [])).sort(), [`${MODULE}/main.tf: aws_lb_target_group.talos.arn`, `${MODULE}/main.tf: var.vpc`]);
    assert.deepEqual(await unresolved(root, scopes, []), [`${ROOT}/loadbalancer.tf: module.loadbalancer.talos_tg_arn`]);
  });
});

describe('render aws: variable validation (terraform test, offline)', () => {
  it('accepts the provider ranges and rejects values just outside them', (t) => {
    const terraform = spawnSync('terraform', ['version'], { encoding: 'utf8' });
    if (!requireOrSkip(t, terraform.status === 0, 'terraform is not on PATH')) return;
    const files = awsRenderer.render(caseSpec('aws-guide'), GOLDEN_CONTEXT);
    const variables = files.find((f) => f.path === `${MODULE}/variables.tf`);
    assert.ok(variables);
    // Only the variable blocks: without the AWS provider (the registry is unreachable) nothing else can plan.
    const dir = mkdtempSync(join(tmpdir(), 'ce-aws-tftest-'));
    try {
      writeFileSync(join(dir, 'variables.tf'), variables.contents);
      mkdirSync(join(dir, 'tests'));
      const good = ['health_check_interval = 5', 'health_check_interval = 300', 'health_check_timeout = 2', 'health_check_timeout = 120', 'healthy_threshold = 2', 'unhealthy_threshold = 10', 'deregistration_delay = 0', 'deregistration_delay = 3600', 'tcp_idle_timeout = 60', 'tcp_idle_timeout = 6000', 'environment = "abcdefghijklmno"'];
      const bad: Array<[string, string]> = [
        ['health_check_interval', '4'], ['health_check_interval', '301'], ['health_check_interval', '7.5'],
        ['health_check_timeout', '1'], ['health_check_timeout', '121'],
        ['healthy_threshold', '1'], ['healthy_threshold', '11'], ['unhealthy_threshold', '1'], ['unhealthy_threshold', '11'],
        ['deregistration_delay', '-1'], ['deregistration_delay', '3601'],
        ['tcp_idle_timeout', '59'], ['tcp_idle_timeout', '6001'], ['tcp_idle_timeout', '90.5'],
        ['environment', '"abcdefghijklmnop"'], ['environment', '"Demo"'],
        ['allowed_admin_cidrs', '["196.45.28.20"]'], ['subnet_ids', '[]'],
      ];
      const runs = [
        'run "defaults" {\n  command = plan\n}',
        ...good.map((assignment, i) => `run "good_${i}" {\n  command = plan\n  variables {\n    ${assignment}\n  }\n}`),
        ...bad.map(([name, value], i) => `run "bad_${i}_${name}" {\n  command = plan\n  variables {\n    ${name} = ${value}\n  }\n  expect_failures = [var.${name}]\n}`),
      ];
      writeFileSync(join(dir, 'tests', 'validation.tftest.hcl'), [
        'variables {\n  environment = "demo"\n  vpc_id = "vpc-0123"\n  subnet_ids = ["subnet-0123"]\n  node_cidrs = ["10.0.1.31/32"]\n}',
        ...runs,
      ].join('\n\n'));
      execFileSync('terraform', ['init', '-input=false', '-no-color'], { cwd: dir, stdio: 'pipe' });
      const result = spawnSync('terraform', ['test', '-no-color'], { cwd: dir, encoding: 'utf8' });
      assert.equal(result.status, 0, `terraform test failed:\n${result.stdout}${result.stderr}`);
      assert.match(result.stdout, new RegExp(`${runs.length} passed, 0 failed`));
      // The test can fail: a value inside the range declared as a failure makes terraform test fail.
      writeFileSync(join(dir, 'tests', 'validation.tftest.hcl'), 'variables {\n  environment = "demo"\n  vpc_id = "vpc-0123"\n  subnet_ids = ["subnet-0123"]\n  node_cidrs = ["10.0.1.31/32"]\n}\n\nrun "wrong" {\n  command = plan\n  variables {\n    health_check_interval = 10\n  }\n  expect_failures = [var.health_check_interval]\n}\n');
      const wrong = spawnSync('terraform', ['test', '-no-color'], { cwd: dir, encoding: 'utf8' });
      assert.notEqual(wrong.status, 0, 'a valid interval declared as a failure must fail terraform test');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('render aws: values an NLB cannot take fail with the field to change', () => {
  const base = specText('aws-guide');
  const withSpec = (edit: (text: string) => string) => () => awsRenderer.render(loadSpec(edit(base)), GOLDEN_CONTEXT);
  const cases: Array<[string, (text: string) => string, RegExp]> = [
    ['interval 2s', (s) => s.replace('interval: 10s', 'interval: 2s').replace('timeout: 5s', 'timeout: 1s'), /^healthCheck\.interval: 2s is outside the NLB range 5s–300s/],
    ['interval 7500ms (not whole seconds)', (s) => s.replace('interval: 10s', 'interval: 7500ms'), /^healthCheck\.interval: 7500ms is not a whole number of seconds/],
    ['timeout 1s', (s) => s.replace('timeout: 5s', 'timeout: 1s'), /^healthCheck\.timeout: 1s is outside/],
    ['healthy threshold 1', (s) => s.replace('healthyThreshold: 2', 'healthyThreshold: 1'), /^healthCheck\.healthyThreshold: 1 is outside the NLB range 2–10/],
    ['deregistration delay 1500ms', (s) => s.replace('deregistrationDelay: 30s', 'deregistrationDelay: 1500ms'), /^deregistrationDelay: 1500ms is not a whole number of seconds/],
    ['environment of 16 characters', (s) => s.replace('environment: demo', 'environment: abcdefghijklmnop'), /^cluster\.environment: "abcdefghijklmnop" is 16 characters/],
    ['tls check', (s) => s.replace('type: tcp', 'type: tls'), /^healthCheck\.type: an NLB has no TLS-handshake health check/],
    ['missing vpcId', (s) => s.replace(/ {2}vpcId: .*\n/, ''), /^aws\.vpcId: is required/],
    ['bad admin CIDR', (s) => s.replace('196.45.28.20/32', '196.45.28.20'), /^aws\.allowedAdminCidrs\[0\]: "196\.45\.28\.20" is not a CIDR block/],
    ['a listener with no role in the layout', (s) => s.replace('name: talos-workers, port: 50001, targetPort: 50000', 'name: metrics, port: 9100, targetPort: 9100'), /^listeners\[2\]\.name: "metrics" has no place/],
    ['two listeners with one role', (s) => s.replace('name: talos-workers, port: 50001, targetPort: 50000, targets: workers', 'name: talos-again, port: 50001, targetPort: 50000, targets: controlPlane'), /^listeners\[2\]\.name: "talos-again" carries the talos role that listener "talos" already has/],
    ['per-listener timing that differs', (s) => s.replace('targets: workers }', 'targets: workers, healthCheck: { interval: 30s } }'), /^listeners\[2\]\.healthCheck\.interval: differs from healthCheck\.interval \(30 vs 10\)/],
    ['a node given by name', (s) => s.replace('address: 10.0.2.32', 'address: cp-02.internal'), /^controlPlane\[1\]\.address: "cp-02\.internal" is not an IPv4 address/],
    ['a node port override', (s) => s.replace('address: 10.0.2.32', 'address: 10.0.2.32, ports: { talos: 50010 }'), /^controlPlane\[1\]\.ports\.talos: cp-02 serves talos on 50010, but the rendered target group registers every node on the listener's targetPort 50000/],
  ];
  for (const [name, edit, pattern] of cases) {
    it(name, () => {
      const error = renderError(withSpec(edit));
      assert.equal(error.code, 'RENDER');
      assert.match(error.message, pattern);
      assert.ok(error.hint, 'has a hint');
    });
  }
  it('the unmodified spec renders (so each case above fails for its own reason)', () => {
    assert.equal(withSpec((s) => s)().length, 7);
  });
  it('a 15-character environment fits the 32-character names', () => {
    const files = withSpec((s) => s.replace('environment: demo', 'environment: abcdefghijklmno'))();
    assert.match(files.find((f) => f.path.endsWith('aws.tfvars'))?.contents ?? '', /environment += "abcdefghijklmno"/);
    assert.equal('abcdefghijklmno-talos-wk-apid-tg'.length, 32);
  });
});


describe('render aws: what the NLB can express it writes, what it cannot it refuses by name', () => {
  const base = specText('aws-guide');
  const render = (edit: (text: string) => string = (s) => s) => awsRenderer.render(loadSpec(edit(base)), GOLDEN_CONTEXT);
  const refusals = (edit: (text: string) => string) => {
    try {
      render(edit);
    } catch (error) {
      assert.ok(error instanceof RenderRefused, `a RenderRefused, not ${String(error)}`);
      return error.refusals;
    }
    return assert.fail('expected render aws to refuse the spec');
  };
  const fileOf = (files: RenderedFile[], suffix: string) => files.find((f) => f.path.endsWith(suffix))?.contents ?? '';

  it('balancer.idleTimeout becomes every listener\'s tcp_idle_timeout_seconds (the NLB keeps 350 s otherwise)', async () => {
    for (const [idle, seconds] of [[undefined, 3600], ['10m', 600], ['60s', 60], ['100m', 6000]] as const) {
      const files = render((s) => (idle ? `${s}balancer: { idleTimeout: ${idle} }\n` : s));
      const tfvars = await parse('aws.tfvars', fileOf(files, 'aws.tfvars'));
      assert.equal(tfvars.tcp_idle_timeout, seconds, `idleTimeout ${idle ?? 'default'}`);
      const module = await scopeOf(files, MODULE);
      const root = await scopeOf(files, ROOT);
      assert.equal(module.variables.tcp_idle_timeout.default, seconds, 'the module default is the spec\'s');
      assert.equal(root.modules.loadbalancer.tcp_idle_timeout, '${var.tcp_idle_timeout}');
      const listeners = [...Object.values(module.resources.aws_lb_listener), ...Object.values(root.resources.aws_lb_listener)];
      assert.equal(listeners.length, 3);
      for (const listener of listeners) assert.equal(listener.tcp_idle_timeout_seconds, '${var.tcp_idle_timeout}');
    }
    for (const [idle, pattern] of [['30s', /^balancer\.idleTimeout: 30s is outside the NLB range 60s–6000s$/], ['2h', /^balancer\.idleTimeout: 7200s is outside/], ['90500ms', /^balancer\.idleTimeout: 90500ms is not a whole number of seconds$/]] as const) {
      const [refusal, ...rest] = refusals((s) => `${s}balancer: { idleTimeout: ${idle} }\n`);
      assert.deepEqual(rest, []);
      assert.match(`${refusal.path}: ${refusal.message}`, pattern);
    }
  });

  it('balance source is stickiness source_ip; roundrobin writes none; leastconn is refused naming the listener', async () => {
    const files = render((s) => s.replace('targets: workers }', 'targets: workers, balance: source }'));
    const root = await scopeOf(files, ROOT);
    const module = await scopeOf(files, MODULE);
    assert.deepEqual(root.resources.aws_lb_target_group.talos_workers_api.stickiness, [{ enabled: true, type: 'source_ip' }]);
    for (const group of Object.values(module.resources.aws_lb_target_group)) assert.equal(group.stickiness, undefined);

    const found = refusals((s) => s.replace('targets: controlPlane }\n  - { name: talos,', 'targets: controlPlane, balance: leastconn }\n  - { name: talos,'));
    assert.deepEqual(found.map((r) => r.path), ['listeners[0].balance']);
    assert.match(found[0].message, /leastconn cannot be written: an NLB hashes each flow/);
    assert.deepEqual(refusals((s) => `${s}balancer: { balance: leastconn }\n`).map((r) => r.path), ['listeners[0].balance', 'listeners[1].balance', 'listeners[2].balance']);
  });

  it('node weights: equal ones are the NLB\'s even spread; different ones and 0 are refused naming the node', () => {
    assert.equal(render((s) => s.replaceAll(/address: (10\.0\.\d\.\d+) \}/g, 'address: $1, weight: 5 }')).length, 7, 'every node weight 5 is an even spread');
    assert.deepEqual(refusals((s) => s.replace('address: 10.0.2.32 }', 'address: 10.0.2.32, weight: 3 }')).map((r) => `${r.path}: ${r.message}`), [
      'controlPlane[1].weight: cp-02 has weight 3 and cp-01 1: an NLB spreads flows evenly and has no per-target weight',
    ]);
    assert.deepEqual(refusals((s) => s.replace('address: 10.0.2.42 }', 'address: 10.0.2.42, weight: 0 }')).map((r) => r.path), ['workers[1].weight']);
  });

  it('aws.region becomes a plan-time check of the provider\'s region; without it there is none', async () => {
    const root = await scopeOf(render(), ROOT);
    assert.equal(root.data.aws_region.current.lifecycle[0].postcondition[0].condition, '${self.name == "eu-west-1"}');
    const other = await scopeOf(render((s) => s.replace('region: eu-west-1', 'region: us-east-2')), ROOT);
    assert.equal(other.data.aws_region.current.lifecycle[0].postcondition[0].condition, '${self.name == "us-east-2"}');
    const none = await scopeOf(render((s) => s.replace(/ {2}region: .*\n/, '')), ROOT);
    assert.equal(none.data.aws_region, undefined);
  });

  it('whenAllDown reject is refused (an NLB always fails open); fail-open renders', () => {
    assert.deepEqual(refusals((s) => `${s}balancer: { whenAllDown: reject }\n`).map((r) => r.path), ['balancer.whenAllDown']);
    assert.equal(render((s) => `${s}balancer: { whenAllDown: fail-open }\n`).length, 7);
  });

  it('reports every field it cannot express at once, as validate does', async () => {
    const edit = (s: string) => s
      .replace('interval: 10s', 'interval: 2s').replace('timeout: 5s', 'timeout: 1s')
      .replace('address: 10.0.2.32 }', 'address: 10.0.2.32, weight: 3 }')
      .replace('environment: demo', 'environment: abcdefghijklmnop')
      .concat('balancer: { idleTimeout: 30s, balance: leastconn }\n');
    const paths = refusals(edit).map((r) => r.path);
    for (const path of ['cluster.environment', 'healthCheck.interval', 'healthCheck.timeout', 'listeners[0].balance', 'controlPlane[1].weight', 'balancer.idleTimeout']) assert.ok(paths.includes(path), `${path} in ${paths.join(', ')}`);

    // The command prints each, with its fix, and exits 1.
    const dir = mkdtempSync(join(tmpdir(), 'ce-aws-all-'));
    try {
      writeFileSync(join(dir, 'endpoint.yaml'), edit(base));
      const result = await runCli(['render', 'aws', '-c', join(dir, 'endpoint.yaml'), '-o', join(dir, 'out')]);
      assert.equal(result.code, 1);
      const errors = result.stderr.split('\n').filter((l) => l.startsWith('error: '));
      assert.equal(errors.length, paths.length, result.stderr);
      assert.equal(result.stderr.split('\n').filter((l) => l.startsWith('  fix: ')).length, paths.length);
      assert.match(result.stderr, /^error: balancer\.idleTimeout: 30s is outside the NLB range 60s–6000s\n {2}fix: set balancer\.idleTimeout to a value from 60s to 6000s$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the module\'s variable defaults are the spec\'s values, not the guide\'s', async () => {
    for (const caseName of ['aws-guide', 'aws-readyz']) {
      const files = awsRenderer.render(caseSpec(caseName), GOLDEN_CONTEXT);
      const module = await scopeOf(files, MODULE);
      const tfvars = await parse('aws.tfvars', fileOf(files, 'aws.tfvars'));
      const rootName: Record<string, string> = { internal: 'nlb_internal' };
      let compared = 0;
      for (const [name, variable] of Object.entries(module.variables)) {
        if (!('default' in variable)) continue;
        assert.deepEqual(variable.default, tfvars[rootName[name] ?? name], `${caseName}: module default of ${name}`);
        compared++;
      }
      assert.ok(compared >= 12, `${caseName}: ${compared} defaults compared`);
    }
  });

  it('the security group holds CIDR blocks, not a /32 per node: its rule count does not grow with the cluster', async () => {
    const many = (n: number) => Array.from({ length: n }, (_, i) => `  - { name: cp-${String(i + 1).padStart(2, '0')}, address: 10.0.${1 + (i % 3)}.${10 + i} }`).join('\n');
    const rulesFor = async (n: number) => {
      const files = render((s) => s.replace(/controlPlane:\n(?: {2}- .*\n)+/, `controlPlane:\n${many(n)}\n`));
      const main = fileOf(files, 'modules/aws/loadbalancer/main.tf');
      assert.doesNotMatch(main, /10\.0\.\d\.\d+/, 'no node address in the module');
      const module = await scopeOf(files, MODULE);
      const root = await scopeOf(files, ROOT);
      assert.equal(root.modules.loadbalancer.node_cidrs, '${local.node_cidrs}');
      assert.equal(root.locals.node_cidrs, '${[for block in data.aws_vpc.nodes.cidr_block_associations : block.cidr_block]}');
      const sg = module.resources.aws_security_group.nlb;
      return { ingress: sg.ingress.length, egress: sg.egress.length };
    };
    const three = await rulesFor(3);
    assert.deepEqual(await rulesFor(40), three);
    // 6443, and 50000-50001 as one range; egress 6443 and 50000.
    assert.deepEqual(three, { ingress: 2, egress: 2 });
  });

  it('at plan time, a node outside the VPC\'s blocks is named (the postcondition, evaluated by terraform)', async (t) => {
    const terraform = spawnSync('terraform', ['version'], { encoding: 'utf8' });
    if (!requireOrSkip(t, terraform.status === 0, 'terraform is not on PATH')) return;
    const root = await scopeOf(render(), ROOT);
    const postcondition = root.data.aws_vpc.nodes.lifecycle[0].postcondition[0];
    // hcl2json gives an expression as "${…}" and a template as its text: both go back to terraform as HCL.
    const evaluate = (expression: string, nodes: Record<string, string>, blocks: string[]) => {
      const text = (/^\$\{.*\}$/.test(expression) ? ref(expression) : `"${expression}"`)
        .replaceAll('local.node_addresses', `{ ${Object.entries(nodes).map(([k, v]) => `"${k}" = "${v}"`).join(', ')} }`)
        .replaceAll('self.cidr_block_associations', `[${blocks.map((b) => `{ cidr_block = "${b}" }`).join(', ')}]`);
      const dir = mkdtempSync(join(tmpdir(), 'ce-aws-console-'));
      try {
        const result = spawnSync('terraform', ['console', '-no-color'], { cwd: dir, input: `${text}\n`, encoding: 'utf8' });
        assert.equal(result.status, 0, result.stderr);
        return result.stdout.trim();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    };
    const nodes = { 'cp-01': '10.0.1.31', 'cp-02': '10.1.2.32', 'wk-01': '172.31.9.9' };
    assert.equal(evaluate(postcondition.condition, nodes, ['10.0.0.0/16', '10.1.0.0/16', '172.31.0.0/20']), 'true');
    assert.equal(evaluate(postcondition.condition, nodes, ['10.0.0.0/16']), 'false');
    assert.match(evaluate(postcondition.error_message, nodes, ['10.0.0.0/16']), /admits: cp-02 \(10\.1\.2\.32\), wk-01 \(172\.31\.9\.9\)\. Pass the nodes' subnets/);
  });
});
