/**
 * Test-time types beyond the Worker's own: the extra bindings of the test
 * pool (see vitest.config.ts), and the Worker's module as the main module,
 * so that `exports` from `cloudflare:workers` is typed (the Worker's code
 * never uses `exports`, so it does not declare this itself).
 */
export {};

declare global {
  namespace Cloudflare {
    interface Env {
      SPARE_EVENTS: KVNamespace;
    }
    interface GlobalProps {
      mainModule: typeof import('../functions/index.ts');
      durableNamespaces: 'Coordinator';
    }
  }
}
