import type { Spec } from '../spec/types.js';

/** One file a renderer produces; `path` is relative to the output directory. */
export interface RenderedFile {
  path: string;
  contents: string;
  /** The file holds a secret (keepalived's auth_pass): whoever writes it makes it readable by its owner only (0600). */
  secret?: boolean;
}

export interface RenderContext {
  /** Tool version, written into every file's header. */
  version: string;
  /** The spec file name as the user passed it (for headers). */
  specName: string;
  /** The spec file's text, for renderers that ship the spec itself to the nodes (staticPod). */
  specText?: string;
  /** render builtin: the executable the unit runs (`--binary`; default a name systemd looks up). */
  binary?: string;
}

/** A pure function from spec to files. The CLI writes them; `--check` compares them. */
export interface Renderer {
  target: string;
  description: string;
  /**
   * The part of the spec this target renders from, when it needs one: `render all` skips the target with a
   * notice when the spec does not have it (a spec without `bgp:` has nothing for BIRD). Absent: the target
   * renders from every spec.
   */
  section?: { name: string; present(spec: Spec): boolean };
  /** The files, or RenderRefused (src/render/refusals.ts) naming every field the engine cannot express. */
  render(spec: Spec, context: RenderContext): RenderedFile[];
}
