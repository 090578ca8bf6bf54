/** Test-time bindings: the Worker's own plus a spare KV namespace (see vitest.config.ts). */
declare namespace Cloudflare {
  interface Env extends import('../functions/env.ts').Env {
    SPARE_EVENTS: KVNamespace;
  }
}
