// Every render target on one spec, and what may be said of the result: files, or refusals that each name a field
// the fields table says the target refuses, at a place that exists in that spec.
import { UserError } from '../../src/errors.js';
import { FIELD_USES, fieldOfPath, type FieldUse, type Target } from '../../src/render/fields.js';
import { RENDERERS, type RenderContext, type RenderedFile } from '../../src/render/index.js';
import { RenderRefused, type Refusal } from '../../src/render/refusals.js';
import type { Spec } from '../../src/spec/types.js';
import type { TSchema } from '@sinclair/typebox';
import { EndpointSpecSchema } from '../../src/spec/schema.js';
import { parsePath, type Raw } from './paths.js';

/** A fixed context: the same spec renders the same bytes, so outputs can be compared. */
export const CONTEXT: RenderContext = { version: '0.0.0-fleet', specName: 'endpoint.yaml' };

/** The context of a spec read from `text`, as the CLI gives it (static pods ship the spec's text to the nodes). */
export const contextOf = (text: string, extra: Partial<RenderContext> = {}): RenderContext => ({ ...CONTEXT, specText: text, ...extra });

export const TARGETS = Object.keys(RENDERERS) as Target[];

export type Outcome =
  | { kind: 'files'; files: RenderedFile[] }
  | { kind: 'refused'; refusals: readonly Refusal[]; plain: boolean }
  /** The spec lacks the section the target renders from: `render all` skips it. */
  | { kind: 'skipped' };

export function renderTarget(target: Target, spec: Spec, context: RenderContext): Outcome {
  const renderer = RENDERERS[target];
  if (renderer.section && !renderer.section.present(spec)) return { kind: 'skipped' };
  try {
    return { kind: 'files', files: renderer.render(spec, context) };
  } catch (error) {
    // Anything but a UserError is a crash, and the test reports it as one.
    if (!(error instanceof UserError)) throw error;
    if (error instanceof RenderRefused) return { kind: 'refused', refusals: error.refusals, plain: false };
    // A plain UserError: the one-line form "path: message", which names a field only by convention.
    const match = /^([A-Za-z][\w-]*(?:\[\d+\])?(?:\.[\w-]+(?:\[\d+\])?)*): (.*)$/s.exec(error.message);
    return { kind: 'refused', refusals: [{ path: match?.[1] ?? '', message: match?.[2] ?? error.message, hint: error.hint ?? '' }], plain: true };
  }
}

/** The output of a target as one string, to compare two renders. */
export const textOf = (files: readonly RenderedFile[]) => files.map((f) => `== ${f.path}\n${f.contents}`).join('\n');

const uses = (target: Target) => FIELD_USES[target] as Record<string, FieldUse>;

/** The table's field a refusal path falls under: listeners[].balance for listeners[2].balance; controlPlane[].ports for controlPlane[1].ports.talos. */
export function tableField(target: Target, path: string): string | undefined {
  const named = fieldOfPath(path);
  return Object.keys(uses(target)).filter((f) => named === f || named.startsWith(`${f}.`)).sort((a, b) => b.length - a.length)[0];
}

/**
 * What is wrong with a refusal, if anything: it names no field, a field the table does not say this target
 * refuses, or a place the spec does not have (a field can be set where its parent exists: listeners[2].balance
 * of a listener that inherits balancer.balance is a place the user can write; so is a field of a default
 * listener, whose hint then names the spec-wide field it inherits).
 */
export function refusalProblem(target: Target, refusal: Refusal, raw: Raw, spec?: Spec): string | undefined {
  if (!refusal.path) return `refuses without naming a field: "${refusal.message}"`;
  const field = tableField(target, refusal.path);
  if (!field || !uses(target)[field].refuses) return `refuses ${refusal.path}, but src/render/fields.ts does not say that ${target} refuses ${field ?? fieldOfPath(refusal.path)}`;
  if (!isPlace(raw, spec, parsePath(refusal.path))) return `refuses ${refusal.path}, which is no place in this spec`;
  return undefined;
}

/**
 * A place of the spec: a path the schema has, through list entries the spec has (a field of listeners[2] where
 * there are three; of a default listener when the spec writes none, as the renderer sees them), and a key of a map
 * the spec sets (controlPlane[1].ports.talos). The field itself may be unset: it can be written there.
 */
export function isPlace(raw: Raw, spec: Spec | undefined, parts: ReadonlyArray<string | number>): boolean {
  let schema: TSchema = EndpointSpecSchema;
  let value: unknown = raw;
  for (const [index, part] of parts.entries()) {
    if (typeof part === 'number') {
      if (schema.type !== 'array') return false;
      const list = Array.isArray(value) ? value : index === 1 && parts[0] === 'listeners' ? spec?.listeners : undefined;
      if (!list || part >= list.length) return false;
      value = list[part];
      schema = schema.items as TSchema;
    } else if (schema.type === 'object' && (schema.properties as Record<string, TSchema> | undefined)?.[part]) {
      schema = (schema.properties as Record<string, TSchema>)[part];
      value = (value as Record<string, unknown> | undefined)?.[part];
    } else if (schema.type === 'object' && schema.patternProperties) {
      if ((value as Record<string, unknown> | undefined)?.[part] === undefined) return false;
      schema = Object.values(schema.patternProperties as Record<string, TSchema>)[0];
      value = (value as Record<string, unknown>)[part];
    } else {
      return false;
    }
  }
  return true;
}
