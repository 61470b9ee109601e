import { BgpAnnouncer } from '../bgp/announcer.js';
import type { Spec } from '../spec/types.js';
import type { AnnouncerFactory } from './daemon.js';

/** The daemon announces the endpoint with BGP when the spec has a bgp section (docs/bgp.md). */
export function bgpFactory(): AnnouncerFactory {
  return (spec: Spec, health, logger) => {
    if (!spec.bgp) return undefined;
    return new BgpAnnouncer({ endpoint: spec.endpoint, bgp: spec.bgp, health, logger, source: spec.source });
  };
}
