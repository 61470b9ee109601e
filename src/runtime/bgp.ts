import { BgpAnnouncer } from '../bgp/announcer.js';
import type { Spec } from '../spec/types.js';
import type { AnnouncerFactory } from './daemon.js';

/** The daemon announces the endpoint with BGP when the spec has a bgp section (docs/bgp.md). */
export function bgpFactory(): AnnouncerFactory {
  return (spec: Spec, healthy, logger) => {
    if (!spec.bgp) return undefined;
    return new BgpAnnouncer({ endpoint: spec.endpoint, bgp: spec.bgp, healthy, logger, source: spec.source });
  };
}
