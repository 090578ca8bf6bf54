/**
 * The Worker's bindings, as declared in wrangler.toml.
 */

/** Bindings and variables available to every handler. */
export interface Env {
  /** Events, the query index and tallies. */
  EVENTS: KVNamespace;
  /** "true" to publish the dataset bundled from data/ into EVENTS when it changes. */
  SEED_FROM_BUNDLE?: string;
}
