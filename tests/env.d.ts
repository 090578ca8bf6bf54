/** Test-time bindings beyond the Worker's own (see vitest.config.ts). */
export {};

declare global {
  namespace Cloudflare {
    interface Env {
      SPARE_EVENTS: KVNamespace;
    }
  }
}
