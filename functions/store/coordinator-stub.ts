/**
 * The handle of the one Coordinator Durable Object instance, for routes and
 * jobs that talk to it.
 */
import type { Env } from '../env.ts';

/** The stub of the Coordinator instance named "main". */
export const coordinator = (env: Env) => env.COORDINATOR.getByName('main');
