/**
 * Service description (`GET /`) and health (`GET /healthz`).
 */
import { Hono } from 'hono';
import { DEFAULT_LIMIT, MAX_LIMIT } from '../domain/query.ts';
import { EVENT_TYPES, WEAPONS } from '../domain/schema.ts';
import type { Env } from '../env.ts';
import { readManifest } from '../store/events-store.ts';

const FILTERS = {
  since: 'YYYY-MM-DD; events on or after this date',
  until: 'YYYY-MM-DD; events on or before this date',
  type: `comma-separated: ${EVENT_TYPES.join(', ')}`,
  country: 'comma-separated ISO 3166-1 alpha-2 codes, e.g. IQ,SY',
  actor: 'text matched against perpetrator, target and claimant names (accents, apostrophes and case ignored)',
  weapon: `comma-separated: ${WEAPONS.join(', ')}`,
  q: 'words that must all appear in title, summary, place or actor names',
  bbox: 'minLon,minLat,maxLon,maxLat (WGS84)',
  has_casualties: 'true or false',
};

/** Routes `/` and `/healthz`. */
export const metaRoutes = new Hono<{ Bindings: Env }>()
  .get('/', (c) =>
    c.json({
      name: 'strikewire',
      description:
        'Source-cited events: attacks on US and partner forces by Iran-aligned militias in Iraq and Syria, and the US strikes, embassy incidents and deployments around them.',
      endpoints: {
        'GET /events': { description: 'Events, newest first, as { data, next_cursor }', parameters: { ...FILTERS, limit: `1..${MAX_LIMIT}, default ${DEFAULT_LIMIT}`, cursor: 'next_cursor of the previous page' } },
        'GET /events/{id}': { description: 'One event by id' },
        'GET /tallies': { description: 'Reported running tallies of attacks and troop numbers, with sources' },
        'GET /healthz': { description: 'Liveness and dataset revision' },
      },
      source: 'Every figure cites a document in data/sources/ with a verbatim quote.',
    }),
  )
  .get('/healthz', async (c) => {
    const manifest = await readManifest(c.env.EVENTS);
    return c.json({ status: 'ok', events: manifest.count, revision: manifest.revision, updated_at: manifest.updated_at });
  });
