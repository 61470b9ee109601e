// The registry of renderers: `cluster-endpoint render <target>` looks targets up here.
// Adding a target is one import and one line in RENDERERS; the command needs no change.
import { birdRenderer } from './bird/index.js';
import { builtinRenderer } from './builtin/index.js';
import { clientsRenderer } from './clients/index.js';
import { dnsRenderer } from './dns/index.js';
import { haproxyRenderer } from './haproxy/index.js';
import { keepalivedRenderer } from './keepalived/index.js';
import { kubeadmRenderer } from './kubeadm/index.js';
import { prometheusRenderer } from './prometheus/index.js';
import { talosRenderer } from './talos/index.js';
import { awsRenderer } from './terraform-aws/index.js';
import type { Renderer } from './types.js';

export const RENDERERS: Record<string, Renderer> = {
  aws: awsRenderer,
  haproxy: haproxyRenderer,
  keepalived: keepalivedRenderer,
  talos: talosRenderer,
  dns: dnsRenderer,
  clients: clientsRenderer,
  builtin: builtinRenderer,
  prometheus: prometheusRenderer,
  bird: birdRenderer,
  kubeadm: kubeadmRenderer,
};

export type { RenderContext, RenderedFile, Renderer } from './types.js';
