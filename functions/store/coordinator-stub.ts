/**
 * The handle of the one Coordinator Durable Object instance, for routes and
 * jobs that talk to it.
 */
import type { Coordinator } from './coordinator.ts';

/** The stub of the Coordinator instance named "main". */
export const coordinator = (env: { COORDINATOR: DurableObjectNamespace<Coordinator> }) => env.COORDINATOR.getByName('main');
