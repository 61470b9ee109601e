// Node `ports` overrides (controlPlane[].ports): where a renderer's target has one port per listener, it
// must refuse a spec whose nodes serve a listener on ports of their own rather than drop the override.
import type { Listener, Spec } from '../spec/types.js';

export interface PortOverride {
  /** The spec field, e.g. controlPlane[1].ports.kubernetes. */
  path: string;
  node: string;
  listener: Listener;
  port: number;
}

/** Every server of these listeners whose port is not its listener's targetPort. */
export function portOverrides(spec: Spec, listeners: readonly Listener[] = spec.listeners): PortOverride[] {
  return listeners.flatMap((listener) => {
    const nodes = listener.targets === 'workers' ? spec.workers : spec.controlPlane;
    return listener.servers.filter((server) => server.port !== listener.targetPort).map((server) => {
      const index = nodes.findIndex((n) => n.name === server.name);
      return { path: `${listener.targets}[${index}].ports.${listener.name}`, node: server.name, listener, port: server.port };
    });
  });
}

/** The first server of these listeners whose port is not its listener's targetPort, or undefined. */
export function firstPortOverride(spec: Spec, listeners: readonly Listener[] = spec.listeners): PortOverride | undefined {
  return portOverrides(spec, listeners)[0];
}
