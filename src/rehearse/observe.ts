// What the rehearsal saw, as plain data for the verdict and the report: every event of the client, the
// stand-in nodes and the LB hosts with the time it happened, the VIP's holders over time, and the drill's
// steps with when each disturbed and restored what.
import type { ClientEvent } from './client.js';
import type { NodeEvent } from './apiserver.js';
import type { StepName } from './plan.js';

export interface EngineLog { host: string; engine: string; at: number; line: string }
export interface EngineExit { host: string; engine: string; at: number; code: number | null; signal: string | null }

export interface StepRecord {
  name: StepName;
  target?: string;
  /** The step's window: from its start to the next step's start. */
  startedAt: number;
  endedAt: number;
  /** When it disturbed and restored what it disturbed (absent for baseline, idle, reload). */
  disturbedAt?: number;
  restoredAt?: number;
  /** What the step did, in order, for the report. */
  actions: string[];
  /** Set when the step could not run as planned. */
  skipped?: string;
}

/**
 * The lab's setup, before any client traffic: the LB hosts start at the same instant (a real pair seldom
 * does), so their first election can hand the VIP over once; the client starts when they have settled.
 */
export interface SetupRecord {
  startedAt: number;
  /** When one LB host held the VIP and no other would take it (absent: not within boundMs). */
  settledAt?: number;
  boundMs: number;
  /** When the client started, and when requests went through and its streams were open (absent: not in time). */
  clientAt?: number;
  readyAt?: number;
}

export interface Observations {
  startedAt: number;
  endedAt: number;
  /** When every watch stream was first open (the idle clock starts). */
  watchesOpenAt?: number;
  client: ClientEvent[];
  nodes: Array<NodeEvent & { node: string }>;
  logs: EngineLog[];
  exits: EngineExit[];
  /** Who held the VIP: a sample whenever it changed. */
  holders: Array<{ at: number; hosts: string[] }>;
  steps: StepRecord[];
  setup?: SetupRecord;
  /** The drill was stopped early (SIGINT). */
  interrupted: boolean;
}

/** The LB hosts holding the VIP at a time. */
export function holdersAt(observations: Observations, at: number): string[] {
  let hosts: string[] = [];
  for (const sample of observations.holders) {
    if (sample.at > at) break;
    hosts = sample.hosts;
  }
  return hosts;
}
