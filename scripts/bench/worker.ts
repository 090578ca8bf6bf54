/**
 * The Worker entry `npm run bench` runs (never deployed): the real Worker,
 * plus `GET /__bench/static?bytes=N`, a constant body of N bytes built once
 * per size. It is the baseline a cached response is compared with: what
 * serving a static file of the same size costs on the same workerd, behind
 * the same `wrangler dev` proxy. Type-checked with the Worker (tsconfig.json),
 * not with the Node scripts.
 */
import worker from '../../functions/index.ts';
import type { Env } from '../../functions/env.ts';

export { Coordinator } from '../../functions/index.ts';

/** The path of the static baseline route. */
const STATIC_PATH = '/__bench/static';
/** Bodies by size, built on first use. */
const bodies = new Map<number, string>();

export default {
  ...worker,
  fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname !== STATIC_PATH) return worker.fetch(request, env, ctx);
    const bytes = Number(url.searchParams.get('bytes') ?? 0);
    let body = bodies.get(bytes);
    if (body === undefined) bodies.set(bytes, (body = 'x'.repeat(bytes)));
    return new Response(body, { headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'public, max-age=60' } });
  },
} satisfies ExportedHandler<Env>;
