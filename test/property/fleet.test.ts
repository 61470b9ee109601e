// One spec for the whole fleet (issue 19, "how to keep it true"): random valid specs over the whole schema, and for
// each render target: it renders or refuses naming a field the fields table says it refuses; what it writes passes
// the engine's own check; doctor finds nothing on our own output; and changing one field at a time changes the
// output of every target that claims the field (or that target refuses the new value) — a field that reaches no
// target without a word is a silent drop.
//
// Seeded: the seed is printed at the start and in every failure; FLEET_SEED=<seed> reproduces a run (and
// FLEET_PATH=<path> a fast-check counterexample), FLEET_SCALE=<n> multiplies the number of specs, FLEET_SHRINK=1
// shrinks a failing spec to a smaller one.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { runDoctor } from '../../src/doctor/run.js';
import { FIELD_USES, specFields, type FieldUse, type Target } from '../../src/render/fields.js';
import type { RenderContext } from '../../src/render/index.js';
import { parseSpec } from '../../src/spec/load.js';
import type { Spec } from '../../src/spec/types.js';
import { requireOrSkip } from '../helpers/cli.js';
import { nonDefaultFields } from './coverage.js';
import { checkEngines, ENGINE_NEEDS, OPTIONAL_ENGINES, type Rendered } from './engines.js';
import { Dice, fleetArbitrary, MUTATORS, type Fleet } from './fleet.js';
import { getAt, slots, withValue, type Raw } from './paths.js';
import { contextOf, refusalProblem, renderTarget, TARGETS, textOf, type Outcome } from './targets.js';

const SEED = process.env.FLEET_SEED !== undefined ? Number(process.env.FLEET_SEED) : Math.floor(Math.random() * 2 ** 31);
const PATH = process.env.FLEET_PATH;
const SCALE = Number(process.env.FLEET_SCALE ?? 1);
/** Shrinking a whole fleet takes minutes: by default the first failing spec is reported as it is. */
const SHRINK = process.env.FLEET_SHRINK === '1';
const RUNS = { coverage: 600, render: 400, engines: 100, mutation: 60 } as const;
const runs = (name: keyof typeof RUNS) => Math.max(1, Math.round(RUNS[name] * SCALE));
const REPRODUCE = `FLEET_SEED=${SEED} node --import tsx --test test/property/fleet.test.ts`;
process.stdout.write(`# fleet: seed ${SEED} (reproduce: ${REPRODUCE})\n`);

// The spec reads these; a value in the environment would change what every generated spec means.
delete process.env.CLUSTER_ENDPOINT_ADMIN_TOKEN;
delete process.env.CLUSTER_ENDPOINT_VIP_KEY;

const uses = (target: Target) => FIELD_USES[target] as Record<string, FieldUse>;
/** A spec as the CLI reads it: its text and, when valid, the normalized spec and the context renderers get. */
function load(raw: Raw): { spec: Spec; context: RenderContext } | undefined {
  const text = stringify(raw);
  const spec = parseSpec(text, 'endpoint.yaml').spec;
  return spec && { spec, context: contextOf(text) };
}
const show = (raw: Raw) => `seed ${SEED} (${REPRODUCE}); the spec:\n${stringify(raw)}`;

/**
 * fc.assert with the property's own message in the failure (fast-check 4 keeps it in `cause` only, which the test
 * runner does not print), the seed and the path to replay it.
 */
function assertProperty<T>(property: fc.IProperty<T>, numRuns: number): void {
  const details = fc.check(property, { seed: SEED, ...(PATH ? { path: PATH } : {}), numRuns, endOnFailure: !SHRINK });
  if (!details.failed) return;
  const error = details.errorInstance as Error | undefined;
  assert.fail(`${error?.message ?? 'the property failed'}
(seed ${details.seed}, path ${details.counterexamplePath}: FLEET_SEED=${details.seed} FLEET_PATH=${details.counterexamplePath} node --import tsx --test test/property/fleet.test.ts)`);
}

/** Problems grouped by what they say (numbers and names blurred), each group with the spec of its first one. */
function grouped(problems: Array<{ key: string; text: string; raw?: Raw }>): string {
  const groups = new Map<string, { count: number; text: string; raw?: Raw }>();
  for (const p of problems) {
    const key = p.key.replace(/\d+/g, 'N').replace(/"[^"]*"/g, 'S');
    const group = groups.get(key) ?? { count: 0, text: p.text, raw: p.raw };
    group.count++;
    groups.set(key, group);
  }
  return [...groups.values()].map((g) => `${g.count}x ${g.text}${g.raw ? `\n  the first spec:\n${stringify(g.raw).replace(/^/gm, '    ')}` : ''}`).join('\n');
}

/** A sample of specs, reproducible from the seed (fc.sample, not a property: these are checked as a batch). */
const sample = (count: number, offset: number): Fleet[] => fc.sample(fleetArbitrary, { seed: SEED + offset, numRuns: count });

/** The checks every target outcome must pass: each refusal through src/render/refusals.ts, naming a field the table says it refuses. */
function outcomeProblems(target: Target, outcome: Outcome, raw: Raw, spec: Spec): string[] {
  if (outcome.kind !== 'refused') return [];
  const problems = outcome.refusals.map((r) => refusalProblem(target, r, raw, spec)).filter((p): p is string => p !== undefined).map((p) => `${target} ${p}`);
  if (outcome.plain) problems.push(`${target} refuses with a plain error instead of RenderRefused (src/render/refusals.ts): "${outcome.refusals[0].path}: ${outcome.refusals[0].message}"`);
  return problems;
}

describe('generated specs (test/property/fleet.ts)', () => {
  test('most are valid, and every field of the schema gets a value other than its default in a good share of them', () => {
    const fleets = sample(runs('coverage'), 0);
    const counts = new Map(specFields().map((f) => [f, 0]));
    let valid = 0;
    const invalid: string[] = [];
    for (const { raw } of fleets) {
      const result = parseSpec(stringify(raw), 'endpoint.yaml');
      if (!result.spec) { invalid.push(result.problems.filter((p) => p.severity === 'error').map((p) => `${p.path}: ${p.message}`).join('; ')); continue; }
      valid++;
      for (const field of nonDefaultFields(raw)) counts.set(field, (counts.get(field) ?? 0) + 1);
    }
    process.stdout.write(`# fleet: ${valid} of ${fleets.length} generated specs are valid${invalid.length ? `; first invalid: ${invalid[0]}` : ''}\n`);
    assert.ok(valid >= fleets.length * 0.9, `only ${valid} of ${fleets.length} specs are valid (${show(fleets[0].raw)}); first problems: ${invalid.slice(0, 3).join(' | ')}`);
    const rare = [...counts].sort((a, b) => a[1] - b[1]);
    process.stdout.write(`# fleet: rarest non-default fields: ${rare.slice(0, 5).map(([f, c]) => `${f} ${(100 * c / valid).toFixed(1)}%`).join(', ')}\n`);
    // A field the generator never sets (a new one) fails here: teach buildFleet and MUTATORS (test/property/fleet.ts) about it.
    // The generator gives every field a non-default value in about 3% of specs or more; 3 in 600 is the floor.
    const missing = rare.filter(([, c]) => c < Math.max(3, valid * 0.005)).map(([f, c]) => `${f} (${c})`);
    assert.deepEqual(missing, [], `fields with a non-default value in fewer than 3 of ${valid} valid specs (seed ${SEED}): teach test/property/fleet.ts to generate them`);
  });

  test('every field a target claims has a mutator, so the mutation pass can change it', () => {
    const claimed = new Set(TARGETS.flatMap((t) => Object.entries(uses(t)).filter(([f, u]) => u.expresses && specFields().includes(f)).map(([f]) => f)));
    assert.deepEqual([...claimed].filter((f) => !MUTATORS[f]), [], 'add a mutator in test/property/fleet.ts (MUTATORS)');
  });
});

describe('render targets on generated specs', () => {
  test('each target renders or refuses naming a field it refuses (src/render/fields.ts), at a place of that spec', () => {
    const tally = new Map(TARGETS.map((t) => [t, { files: 0, refused: 0, skipped: 0 }]));
    assertProperty(fc.property(fleetArbitrary, ({ raw }) => {
      const loaded = load(raw);
      fc.pre(loaded !== undefined);
      const { spec, context } = loaded!;
      const problems: string[] = [];
      for (const target of TARGETS) {
        let outcome: Outcome;
        try {
          outcome = renderTarget(target, spec, context);
        } catch (error) {
          problems.push(`${target} crashed: ${(error as Error).stack}`);
          continue;
        }
        tally.get(target)![outcome.kind === 'files' ? 'files' : outcome.kind]++;
        problems.push(...outcomeProblems(target, outcome, raw, spec));
      }
      if (problems.length > 0) assert.fail(`${problems.join('\n')}\n${show(raw)}`);
    }), runs('render'));
    process.stdout.write(`# fleet: outcomes per target (files/refused/skipped): ${[...tally].map(([t, c]) => `${t} ${c.files}/${c.refused}/${c.skipped}`).join(', ')}\n`);
    // Each target writes files for a good share of specs, so the engine, doctor and mutation checks are not empty.
    const seldom = [...tally].filter(([, c]) => c.files < runs('render') * 0.05).map(([t, c]) => `${t} ${c.files}`);
    assert.deepEqual(seldom, [], `targets that rendered files for fewer than 5% of ${runs('render')} specs (seed ${SEED})`);
  });
});

describe('the engines and doctor on what the targets write', () => {
  const dirs: string[] = [];
  after(async () => { for (const dir of dirs) await rm(dir, { recursive: true, force: true }); });

  /** A batch of valid specs and every target's files (the builtin units also with an ExecStart that exists). */
  const batch: Array<Rendered & { raw: Raw }> = [];
  const rendered = () => {
    if (batch.length > 0) return batch;
    for (const { raw } of sample(runs('engines'), 1)) {
      const loaded = load(raw);
      if (!loaded) continue;
      const { spec, context } = loaded;
      const files: Rendered['files'] = {};
      for (const target of TARGETS) {
        const outcome = renderTarget(target, spec, context);
        if (outcome.kind === 'files') files[target] = outcome.files;
      }
      const units = renderTarget('builtin', spec, { ...context, binary: process.execPath });
      batch.push({ index: batch.length, raw, spec, files, ...(units.kind === 'files' ? { units: units.files } : {}) });
    }
    return batch;
  };

  test('haproxy -c, keepalived -t, bird -p, promtool, terraform fmt (where installed) and HCL parsing, the Talos schemas, named-checkzone, systemd-analyze and sh -n accept every file', async (t) => {
    const absent = Object.entries(ENGINE_NEEDS).flatMap(([name, need]) => (need() ? [{ name, why: need()! }] : []));
    const missing = absent.filter((a) => !OPTIONAL_ENGINES[a.name]).map((a) => `${a.name}: ${a.why}`);
    if (missing.length > 0 && !requireOrSkip(t, false, `engines missing: ${missing.join('; ')}`)) return;
    for (const a of absent.filter((a) => OPTIONAL_ENGINES[a.name])) process.stdout.write(`# fleet: not checked: ${a.name} (${a.why}; ${OPTIONAL_ENGINES[a.name]})\n`);
    const dir = await mkdtemp(join(tmpdir(), 'ce-fleet-'));
    dirs.push(dir);
    const started = Date.now();
    const { problems, runs: ran } = await checkEngines(rendered(), dir, `cefleet-${process.pid}`);
    process.stdout.write(`# fleet: engines on ${batch.length} specs in ${Date.now() - started} ms: ${ran.map((r) => `${r.engine} ${r.files} file(s) ${r.ms} ms${r.skipped ? ` (skipped: ${r.skipped})` : ''}`).join('; ')}\n`);
    if (problems.length > 0) {
      assert.fail(`${problems.length} problem(s), seed ${SEED} (${REPRODUCE}):\n${grouped(problems.map((p) => ({ key: `${p.engine} ${p.message}`, text: `${p.engine} on ${p.file}: ${p.message}`, raw: batch[p.index]?.raw })))}`);
    }
    // Every engine checked something: a batch in which no target wrote its files would prove nothing.
    const idle = Object.keys(ENGINE_NEEDS).filter((name) => !absent.some((a) => a.name === name) && !ran.some((r) => r.engine === name && r.files > 0));
    assert.deepEqual(idle, [], `engines that had no file to check in ${batch.length} specs (seed ${SEED})`);
  });

  test('doctor finds nothing at warning or error level on our own output of a spec', async () => {
    // The files doctor reads (render dns's zone file and BIRD's health loop and unit are none of them).
    const DOCTOR_TARGETS: Target[] = ['haproxy', 'keepalived', 'talos', 'aws', 'dns', 'bird'];
    const read = (path: string) => /\.(cfg|conf|ya?ml|tf|tfvars)$/.test(path);
    const report: Array<{ key: string; text: string; raw: Raw }> = [];
    let checked = 0;
    for (const item of rendered()) {
      const inputs = [{ path: 'endpoint.yaml', text: stringify(item.raw) }];
      for (const target of DOCTOR_TARGETS) {
        for (const file of item.files[target] ?? []) {
          if (!read(file.path)) continue;
          inputs.push({ path: `${target}/${file.path}`, text: file.contents });
        }
      }
      if (inputs.length === 1) continue;
      checked++;
      const result = await runDoctor(inputs);
      // Findings on the spec itself are about the user's choices; a finding on our file that says the same as one
      // on the spec is the spec's choice written out (MIRRORED). Anything else is ours.
      const onSpec = new Set(result.findings.filter((f) => f.file === 'endpoint.yaml').flatMap((f) => [f.rule, `${f.rule} ${f.message.split(':')[0]}`]));
      const found = result.findings.filter((f) => f.severity !== 'info' && f.file !== 'endpoint.yaml' && !MIRRORED[f.rule]?.some((rule) => onSpec.has(rule)));
      for (const f of found) report.push({ key: `${f.rule} ${f.message}`, text: `${f.file}:${f.line} ${f.severity} [${f.rule}] ${f.message}`, raw: item.raw });
    }
    process.stdout.write(`# fleet: doctor on the output of ${checked} specs\n`);
    if (report.length > 0) assert.fail(`doctor found ${report.length} problem(s) on our own output, seed ${SEED} (${REPRODUCE}):\n${grouped(report)}`);
  });
});

/**
 * Doctor's rules for a file that find the same choice its rules for the spec find (two nodes behind a balancer, a
 * TCP check of the Kubernetes API, sessions kept on a server marked down, a short idle timeout, BGP without BFD, a
 * check of the deprecated /healthz):
 * on our own output they only repeat what doctor said about the spec (at any level), and count when doctor said it there
 * ("rule" or "rule field": spec/validate's finding about that field).
 */
const MIRRORED: Record<string, string[]> = {
  'haproxy/quorum': ['spec/quorum'],
  'haproxy/tcp-only-check': ['spec/tcp-check-kubernetes'],
  'haproxy/no-shutdown-sessions': ['spec/on-marked-down-keep'],
  'haproxy/short-timeouts': ['spec/idle-timeout', 'spec/kernel-mode-proxy-settings'],
  'bird/bgp-without-bfd': ['spec/validate bgp.bfd', 'spec/bgp-session-without-bfd'],
  'haproxy/healthz-check': ['spec/healthz-check'],
  'terraform/healthz-check': ['spec/healthz-check'],
};

describe('mutation: one field changed at a time', () => {
  test('changes the output of every target that claims the field (when its `when` holds), or that target refuses the new value', () => {
    const exercised = new Map<string, number>();
    let mutations = 0;
    let invalid = 0;
    assertProperty(fc.property(fleetArbitrary, fc.gen(), ({ raw, context }, g) => {
      const loaded = load(raw);
      fc.pre(loaded !== undefined);
      const base = loaded!.spec;
      const d = new Dice(g);
      const baseOutcomes = new Map<Target, Outcome>();
      const outcome = (target: Target) => {
        if (!baseOutcomes.has(target)) baseOutcomes.set(target, renderTarget(target, base, loaded!.context));
        return baseOutcomes.get(target)!;
      };
      const drops: string[] = [];
      for (const slot of slots(raw)) {
        const claimants = TARGETS.filter((t) => uses(t)[slot.field]?.expresses);
        if (claimants.length === 0) continue;
        const current = getAt(raw, slot.parts);
        const value = MUTATORS[slot.field]?.(d, context, current, raw, slot);
        if (value === undefined || isDeepStrictEqual(value, current)) continue;
        const mutant = withValue(raw, slot.parts, value);
        const changedSpec = load(mutant);
        if (!changedSpec) { invalid++; continue; }
        const changed = changedSpec.spec;
        // The default written out, or a value nothing reads in this spec: no consumer can see a change.
        if (isDeepStrictEqual(changed, base)) continue;
        mutations++;
        for (const target of claimants) {
          const use = uses(target)[slot.field];
          if (use.when && !(use.when(base!, slot.path) && use.when(changed, slot.path))) continue;
          const before = outcome(target);
          if (before.kind !== 'files') continue;
          const after = renderTarget(target, changed, changedSpec.context);
          if (after.kind === 'refused') continue;
          if (after.kind === 'skipped') { drops.push(`${target}: changing ${slot.path} made the target skip the spec`); continue; }
          const key = `${target} ${slot.field}`;
          if (textOf(after.files) === textOf(before.files)) {
            drops.push(`${target} claims ${slot.field} (${use.expresses}), but its output is the same with ${slot.path}: ${JSON.stringify(current)} → ${JSON.stringify(value)}`);
          } else {
            exercised.set(key, (exercised.get(key) ?? 0) + 1);
          }
        }
      }
      if (drops.length > 0) assert.fail(`${drops.join('\n')}\n${show(raw)}`);
    }), runs('mutation'));
    process.stdout.write(`# fleet: ${mutations} mutations (${invalid} more made the spec invalid); ${exercised.size} (target, field) pairs changed an output\n`);
    // Which claims the mutations reached: a claim never exercised is a claim no test checks.
    const claims = TARGETS.flatMap((t) => Object.entries(uses(t)).filter(([f, u]) => u.expresses && specFields().includes(f)).map(([f]) => `${t} ${f}`));
    const unreached = claims.filter((c) => !exercised.has(c));
    process.stdout.write(`# fleet: claims not exercised in this run (${unreached.length} of ${claims.length}): ${unreached.join(', ')}\n`);
    // Some claims no single change can reach (a field whose every other value the target refuses, or whose \`when\`
    // the change itself breaks), but most must be: a pass that exercised few would prove little.
    assert.ok(exercised.size >= claims.length * 0.6, `only ${exercised.size} of ${claims.length} claims were exercised (seed ${SEED})`);
  });
});
