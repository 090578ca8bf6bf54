/**
 * The Worker entry of the workerd test suite: the real Worker, whose
 * Coordinator Durable Object writes KV through the platform simulation
 * (tests/platform/simulated-kv.ts), so every workerd test runs with the
 * one-write-per-second-per-key and six-connection rules enforced on the
 * writer, Queues' message and batch limits enforced on its delivery queue
 * (tests/platform/simulated-queue.ts), and stale reads in the writer's
 * location when a test turns staleness on. vitest.config.ts points the
 * `workers` project's `main` here.
 */
import worker, { Coordinator as RealCoordinator } from '../../functions/index.ts';
import type { Env } from '../../functions/env.ts';
import { simulation } from './simulated-kv.ts';
import { queueSimulation } from './simulated-queue.ts';

export default worker;

/** The real Coordinator, seeing EVENTS through the simulation's writer view and its delivery queue through the Queues limits. */
export class Coordinator extends RealCoordinator {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, { ...env, EVENTS: simulation.writerView(env.EVENTS), DELIVERIES: queueSimulation.wrap(env.DELIVERIES) });
  }
}
