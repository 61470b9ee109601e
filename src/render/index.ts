// The registry of renderers: `cluster-endpoint render <target>` looks targets up here.
import type { Renderer } from './types.js';

export const RENDERERS: Record<string, Renderer> = {};

export type { RenderContext, RenderedFile, Renderer } from './types.js';
