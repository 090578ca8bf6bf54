/**
 * The actor dictionary: `GET /actors` (every actor with how many records name
 * it in each role) and `GET /actors/:id` (one actor). The dictionary is
 * bundled with the Worker, the counts come from the `/stats` aggregates the
 * index head names (routes/stats.ts: a few KV reads whatever the size of the
 * dataset), so the validators name both: a digest of the bundled dictionary
 * and the index revision.
 */
import { vValidator } from '@hono/valibot-validator';
import { Hono, type Context } from 'hono';
import * as v from 'valibot';
import { ACTORS, ACTORS_JSON, actorById, emptyRoleCounts, type RoleCounts } from '../domain/actors.ts';
import { sha256Hex } from '../domain/digest.ts';
import { EventIdSchema, type Actor } from '../domain/schema.ts';
import { indexRead, type ScopeOf } from './conditional.ts';
import type { ReadEnv } from './read-env.ts';
import { jsonError, validationHook } from './errors.ts';
import { matchingStats } from './stats.ts';

/** The digest of the bundled dictionary, computed once per isolate. */
let dictionaryDigest: Promise<string> | null = null;

/** The dictionary's digest with the index version: the counts change with the index, the rest with the bundle. */
const withDictionary: ScopeOf = async (dataset) => ({ revision: `actors:${await (dictionaryDigest ??= sha256Hex(ACTORS_JSON))}:${dataset.revision}`, updatedAt: dataset.updatedAt });

/** How many records name each actor in each role (a record counts once per actor and role), from the `/stats` aggregates. */
async function countRoles(c: Context<ReadEnv>): Promise<Map<string, RoleCounts>> {
  const { by_actor: actors } = await matchingStats(c, {});
  return new Map(actors.map(({ key, perpetrator, claimant, target, directed_by }) => [key, { perpetrator, claimant, target, directed_by }]));
}

/** An actor as served: its dictionary entry and its counts per role. */
const withCounts = (actor: Actor, counts: Map<string, RoleCounts>) => ({ ...actor, counts: counts.get(actor.id) ?? emptyRoleCounts() });

/** Routes under `/actors`. */
export const actorsRoutes = new Hono<ReadEnv>()
  .get('/', vValidator('query', v.strictObject({}), validationHook()), indexRead({ scope: withDictionary }), async (c) => {
    const counts = await countRoles(c);
    return c.json({ data: ACTORS.map((actor) => withCounts(actor, counts)) });
  })
  .get(
    '/:id',
    vValidator('param', v.object({ id: EventIdSchema }), validationHook()),
    async (c, next) => {
      const { id } = c.req.valid('param');
      if (!actorById(id)) return jsonError(c, 404, 'not_found', `No actor with id "${id}"`, [{ field: 'id', message: 'no such actor; GET /actors lists them' }]);
      await next();
    },
    indexRead({ scope: withDictionary }),
    async (c) => {
      const actor = actorById(c.req.valid('param').id)!;
      return c.json(withCounts(actor, await countRoles(c)));
    },
  );
