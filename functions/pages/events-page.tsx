/**
 * The list of records for browsers (`GET /events` as HTML): a filter form
 * that works without JavaScript (a GET form with the query parameters of the
 * JSON API, every control labelled), the page of records with cursor links,
 * and a "follow this" box for the filter shown: its feeds, the GeoJSON and
 * CSV downloads of the page, and a `curl` that subscribes a webhook to it.
 */
import { ACTORS } from '../domain/actors.ts';
import { casualtyText } from '../domain/feed.ts';
import { downloadLinks, feedLinks, filterParameters, subscribeCommand, withQuery } from '../domain/follow.ts';
import { ACTOR_ROLES, EVENT_TYPES, LOCATION_PRECISIONS, WEAPONS, type Event } from '../domain/schema.ts';
import { ErrorPage } from './error-page.tsx';
import { EventLink } from './event-page.tsx';
import { Layout } from './layout.tsx';
import { codeWords, placeLabel, ROLE_WORDS } from './words.ts';

/** What the list page shows. */
export interface EventsPageProps {
  origin: string;
  /** The query as requested (valid), which the form shows and the links keep. */
  query: URLSearchParams;
  events: readonly Event[];
  nextCursor: string | null;
}

/** The values given for a list parameter, whether comma-separated or repeated. */
const listValues = (query: URLSearchParams, name: string): string[] => query.getAll(name).flatMap((value) => value.split(',').map((part) => part.trim()));

/** The filter in words, for the title: "type=attack, country=IQ", or "all records". */
const filterWords = (filter: URLSearchParams): string => (filter.size ? [...filter].map(([name, value]) => `${name}=${value}`).join(', ') : 'all records');

/** A group of checkboxes for one list parameter. */
function Checkboxes({ name, legend, values, query, words = codeWords }: { name: string; legend: string; values: readonly string[]; query: URLSearchParams; words?: (value: string) => string }) {
  const checked = listValues(query, name);
  return (
    <fieldset>
      <legend>{legend}</legend>
      {values.map((value) => (
        <label>
          <input type="checkbox" name={name} value={value} checked={checked.includes(value)} /> {words(value)}
        </label>
      ))}
    </fieldset>
  );
}

/** A labelled single-value control. */
function Field({ name, label, type = 'text', query, hint }: { name: string; label: string; type?: string; query: URLSearchParams; hint?: string }) {
  return (
    <div>
      <label for={`filter-${name}`}>{label}</label>
      <input id={`filter-${name}`} name={name} type={type} value={query.get(name) ?? ''} aria-describedby={hint ? `hint-${name}` : undefined} />
      {hint ? (
        <small id={`hint-${name}`} class="muted">
          {hint}
        </small>
      ) : (
        ''
      )}
    </div>
  );
}

/** A labelled choice of one value, "any" submitting nothing. */
function Choice({ name, label, options, query }: { name: string; label: string; options: ReadonlyArray<[value: string, words: string]>; query: URLSearchParams }) {
  const current = query.get(name) ?? '';
  return (
    <div>
      <label for={`filter-${name}`}>{label}</label>
      <select id={`filter-${name}`} name={name}>
        <option value="">any</option>
        {options.map(([value, words]) => (
          <option value={value} selected={value === current}>
            {words}
          </option>
        ))}
      </select>
    </div>
  );
}

/** Where a filter form is shown: the list (with its page size) or the explorer (which loads every page, and whose "clear" link reloads it). */
export type FilterFormPlace = 'list' | 'explorer';

/**
 * The filter form: a GET to `/events` with the API's parameters (from the
 * explorer too, so that without JavaScript it opens the list). Empty
 * controls submit empty values, which the page drops (redirecting to the
 * same query without them), so the URL stays one the JSON API accepts.
 */
export function FilterForm({ query, place = 'list' }: { query: URLSearchParams; place?: FilterFormPlace }) {
  return (
    <form class="filters" id="filters" method="get" action="/events" role="search" aria-label="Filter records">
      <Field name="q" label="Words" type="search" query={query} hint={'whole words; word* for a prefix; "quoted phrase"'} />
      <Field name="since" label="From (date)" type="date" query={query} />
      <Field name="until" label="Until (date)" type="date" query={query} />
      <Choice name="date_match" label="Dates" options={[['overlap', 'may fall in the range (overlap)'], ['within', 'wholly in the range (within)']]} query={query} />
      <Field name="country" label="Countries" query={query} hint="ISO codes, comma-separated: IQ,SY" />
      <div>
        <label for="filter-actor">Actor</label>
        <input id="filter-actor" name="actor" type="text" list="actor-names" value={query.get('actor') ?? ''} aria-describedby="hint-actor" />
        <small id="hint-actor" class="muted">
          name, alias or id, e.g. KH
        </small>
        <datalist id="actor-names">
          {ACTORS.map((actor) => (
            <option value={actor.id}>{actor.name}</option>
          ))}
        </datalist>
      </div>
      <Choice name="has_casualties" label="Casualties" options={[['true', 'reported, above zero'], ['false', 'reported as none'], ['unknown', 'no number reported']]} query={query} />
      <Field name="bbox" label="Map box" query={query} hint="minLon,minLat,maxLon,maxLat" />
      {place === 'list' ? <Field name="limit" label="Records per page" type="number" query={query} hint="1 to 500; 50 when empty" /> : ''}
      <Checkboxes name="type" legend="Type" values={EVENT_TYPES} query={query} />
      <Checkboxes name="actor_role" legend="Actor's role" values={ACTOR_ROLES} query={query} words={(role) => ROLE_WORDS[role as keyof typeof ROLE_WORDS]} />
      <Checkboxes name="weapon" legend="Weapons" values={WEAPONS} query={query} />
      <Checkboxes name="precision" legend="Place precision" values={LOCATION_PRECISIONS} query={query} />
      <div class="actions">
        <button type="submit">Show records</button> <a href={place === 'list' ? '/events' : '/'}>Clear the filters</a>
      </div>
    </form>
  );
}

/** The "follow this" box for a filter. */
function FollowBox({ origin, query }: { origin: string; query: URLSearchParams }) {
  const filter = filterParameters(query);
  const downloads = downloadLinks(origin, query);
  return (
    <section class="panel" aria-labelledby="follow-heading">
      <h2 id="follow-heading">Follow this</h2>
      <p>Feeds of the newest records matching {filterWords(filter)}:</p>
      <ul>
        {feedLinks(origin, filter).map((feed) => (
          <li>
            <a href={feed.url} type={feed.type}>
              {feed.name}
            </a>
            : <code>{feed.url}</code>
          </li>
        ))}
      </ul>
      <p>
        This page as <a href={downloads.geojson}>GeoJSON</a> or <a href={downloads.csv}>CSV</a>; as JSON: <code>{`curl '${origin}/events${withQuery(query)}'`}</code>
      </p>
      <p>Subscribe a webhook to exactly this filter (admin token; replace the receiver's URL):</p>
      <pre>
        <code>{subscribeCommand(origin, filter)}</code>
      </pre>
    </section>
  );
}

/** One record as a list item. */
function EventItem({ event }: { event: Event }) {
  const casualties = event.casualties.map((casualty) => `${codeWords(casualty.group)}: ${casualtyText(casualty)}`).join('; ');
  return (
    <li>
      <EventLink event={event} />
      <br />
      <span class="muted">
        {codeWords(event.type)} · {placeLabel(event.location)} · {casualties || 'no casualty figures reported'}
      </span>
    </li>
  );
}

/** The page. */
export function EventsPage({ origin, query, events, nextCursor }: EventsPageProps) {
  const filter = filterParameters(query);
  const newest = new URLSearchParams([...query].filter(([name]) => name !== 'cursor'));
  const older = new URLSearchParams(newest);
  if (nextCursor) older.set('cursor', nextCursor);
  return (
    <Layout title={`Events: ${filterWords(filter)}`} feeds={feedLinks(origin, filter)}>
      <h1>Events</h1>
      <p>
        Attacks on US and partner forces by Iran-aligned militias in Iraq and Syria, and the US strikes, embassy incidents and deployments around them, newest first. Showing:{' '}
        {filterWords(filter)}.
      </p>
      <h2>Filter</h2>
      <FilterForm query={query} />
      <h2>Records</h2>
      {events.length ? (
        <ol class="events">
          {events.map((event) => (
            <EventItem event={event} />
          ))}
        </ol>
      ) : (
        <p>No records on this page{nextCursor ? ' (the search goes on: see older records)' : ''}.</p>
      )}
      <nav class="pages" aria-label="Pages">
        {query.has('cursor') ? <a href={`/events${withQuery(newest)}`}>Newest records</a> : ''}
        {nextCursor ? (
          <a rel="next" href={`/events${withQuery(older)}`}>
            Older records
          </a>
        ) : (
          <span class="muted">No older records.</span>
        )}
      </nav>
      <FollowBox origin={origin} query={query} />
    </Layout>
  );
}

/** A page for a filter the API refuses (400): the same message and fields, and the form to fix it. */
export function InvalidQueryPage({ origin, query, message, fields }: { origin: string; query: URLSearchParams; message: string; fields: ReadonlyArray<{ field: string; message: string }> }) {
  return (
    <ErrorPage origin={origin} heading="Invalid filter" message={message} fields={fields}>
      <h2>Filter</h2>
      <FilterForm query={query} />
    </ErrorPage>
  );
}
