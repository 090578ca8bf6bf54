/**
 * The Worker's bindings, as declared in wrangler.toml, also registered as
 * `Cloudflare.Env` so that `env` from `cloudflare:workers` is typed. The
 * Coordinator's own part is declared beside it (store/coordinator.ts), so
 * the store imports nothing from here.
 */
import type { Coordinator, CoordinatorBindings } from './store/coordinator.ts';

/** Bindings and variables available to every handler. */
interface Bindings extends CoordinatorBindings {
  /** "true" to publish the dataset bundled from data/ into EVENTS when it changes. */
  SEED_FROM_BUNDLE?: string;
  /** Secret bearer token for the write API; unset closes it. */
  ADMIN_TOKEN?: string;
  /** "true" only in local development: allows http(s) webhook targets on loopback. */
  ALLOW_LOOPBACK_WEBHOOKS?: string;
  /**
   * Most records one `POST /events` may hold: a whole number from 1 to 500
   * (the hard cap, and the default when unset). A smaller value keeps one
   * write within the Workers Free plan's per-request limits. Any other value
   * closes the write API with 503 `misconfigured` (and a log line) until fixed.
   */
  MAX_RECORDS_PER_POST?: string | number;
  /** The single writer and webhook bookkeeper. */
  COORDINATOR: DurableObjectNamespace<Coordinator>;
}

/** Bindings and variables available to every handler. */
export type Env = Bindings;

declare global {
  namespace Cloudflare {
    interface Env extends Bindings {}
  }
}
