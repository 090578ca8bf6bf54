/**
 * The flat view of a record that the tabular and map exports share: the
 * columns of `/events.csv` and the feature properties of `/events.geojson`,
 * defined once so the two never drift apart.
 */
import { actorDisplayName, recordActors } from './actors.ts';
import { dateInterval } from './dates.ts';
import { casualtyStatus, casualtyTotals } from './layout.ts';
import type { ActorRole, Event } from './schema.ts';
import { safeText } from './text.ts';

/** A record flattened to one level; lists stay lists, casualties become totals. */
export interface FlatEvent {
  id: string;
  type: Event['type'];
  date: string;
  date_precision: Event['date_precision'];
  /** First and last day the record may have happened on (`dateInterval`). */
  date_start: string;
  date_end: string;
  title: string;
  summary: string;
  place: string;
  country: string;
  lat: number;
  lon: number;
  location_precision: Event['location']['precision'];
  /** Canonical names of the actors in each role (the dictionary's, else the record's wording). */
  perpetrator: string[];
  target: string[];
  claimed_by: string[];
  directed_by: string[];
  /** Every actor as `<dictionary id>:<role>`, for joins with `GET /actors`. */
  actor_ids: string[];
  weapons: string[];
  /** Sum of the killed figures the sources give; null (an empty CSV cell) when they give none. */
  killed: number | null;
  /** Sum of the injured figures the sources give; null when they give none. */
  injured: number | null;
  /** `true`, `false` or null (unknown): see `casualtyStatus`. */
  has_casualties: boolean | null;
  /** Publishers of the cited sources. */
  sources: string[];
  revision: number;
  created_at: string;
  updated_at: string;
  /** Absolute URL of the full record. */
  url: string;
}

/** Flattens `event`; `origin` (`https://host`) makes its URL absolute. Text is `safeText`: valid UTF-8 whatever is stored. */
export function flattenEvent(event: Event, origin: string): FlatEvent {
  const names = (list: readonly string[]) => list.map(safeText);
  const actors = recordActors(event);
  const inRole = (role: ActorRole) => names([...new Set(actors.filter((actor) => actor.role === role).map(actorDisplayName))]);
  return {
    id: event.id,
    type: event.type,
    date: event.date,
    date_precision: event.date_precision,
    ...dateInterval(event),
    title: safeText(event.title),
    summary: safeText(event.summary),
    place: safeText(event.location.name),
    country: event.location.country,
    lat: event.location.lat,
    lon: event.location.lon,
    location_precision: event.location.precision,
    perpetrator: inRole('perpetrator'),
    target: inRole('target'),
    claimed_by: inRole('claimant'),
    directed_by: inRole('directed_by'),
    actor_ids: names(actors.filter((actor) => actor.id).map((actor) => `${actor.id}:${actor.role}`)),
    weapons: event.weapons,
    ...casualtyTotals(event),
    has_casualties: casualtyStatus(event.casualties),
    sources: names([...new Set(event.sources.map((source) => source.publisher))]),
    revision: event.revision,
    created_at: event.created_at,
    updated_at: event.updated_at,
    url: `${origin}/events/${event.id}`,
  };
}
