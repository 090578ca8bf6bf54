/**
 * The Worker's bindings, as declared in wrangler.toml, also registered as
 * `Cloudflare.Env` so that `env` from `cloudflare:workers` is typed.
 */

/** Bindings and variables available to every handler. */
interface Bindings {
  /** Events, the query index and tallies. */
  EVENTS: KVNamespace;
  /** "true" to publish the dataset bundled from data/ into EVENTS when it changes. */
  SEED_FROM_BUNDLE?: string;
}

/** Bindings and variables available to every handler. */
export type Env = Bindings;

declare global {
  namespace Cloudflare {
    interface Env extends Bindings {}
    interface GlobalProps {
      mainModule: typeof import('./index.ts');
    }
  }
}
