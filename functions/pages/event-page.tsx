/**
 * The page of one record (`GET /events/:id` for browsers): what happened,
 * when (at its precision, with the reasoning), where (with a small static
 * map), casualties with
 * "not reported" where the sources give no number, actors by role, weapons,
 * every source with its verbatim quote and a link to the document, related
 * records, and links to the JSON and to the feeds the record belongs to.
 */
import { actorById, actorDisplayName, recordActors } from '../domain/actors.ts';
import { dateInterval, dateLabel } from '../domain/dates.ts';
import { casualtyText } from '../domain/feed.ts';
import { feedLinks } from '../domain/follow.ts';
import { ACTOR_ROLES, type Event } from '../domain/schema.ts';
import { sourcePath } from '../domain/sources.ts';
import { Layout } from './layout.tsx';
import { PlaceMap } from './place-map.tsx';
import { codeWords, countryName, DATE_PRECISION_WORDS, LOCATION_PRECISION_WORDS, placeLabel, ROLE_WORDS } from './words.ts';

/** Days before and after a record within which other records are listed as close in time. */
export const NEARBY_DAYS = 7;

/** What the page shows. */
export interface EventPageProps {
  origin: string;
  event: Event;
  /** The records `event.related` names, in its order; null for one that is not served. */
  linked: ReadonlyArray<{ id: string; event: Event | null }>;
  /** Other records within NEARBY_DAYS of it, newest first. */
  nearby: readonly Event[];
}

/** A record as a line of a list: its date and title, linked to its page. */
export function EventLink({ event }: { event: Event }) {
  return <a href={`/events/${event.id}`}>{`${dateLabel(event)} — ${event.title}`}</a>;
}

/** The filters whose feeds carry this record: every record, its type, its country and each of its dictionary actors. */
function recordFilters(event: Event): Array<{ label: string; filter: URLSearchParams }> {
  const actorIds = [...new Set(recordActors(event).map((actor) => actor.id))].filter((id) => actorById(id));
  return [
    { label: 'every record', filter: new URLSearchParams() },
    { label: `type ${event.type}`, filter: new URLSearchParams({ type: event.type }) },
    { label: countryName(event.location.country), filter: new URLSearchParams({ country: event.location.country }) },
    ...actorIds.map((id) => ({ label: actorById(id)!.name, filter: new URLSearchParams({ actor: id }) })),
  ];
}

/** The page. */
export function EventPage({ origin, event, linked, nearby }: EventPageProps) {
  const { date_start, date_end } = dateInterval(event);
  const { location } = event;
  const actors = recordActors(event);
  const filters = recordFilters(event);
  return (
    <Layout title={`${dateLabel(event)} — ${event.title}`} feeds={feedLinks(origin, new URLSearchParams())}>
      <article>
        <p class="muted">
          <a href={`/events?type=${event.type}`}>{codeWords(event.type)}</a> in <a href={`/events?country=${location.country}`}>{countryName(location.country)}</a>
        </p>
        <h1>{event.title}</h1>
        <p>{event.summary}</p>

        <h2>Date</h2>
        <p>
          <strong>{dateLabel(event)}</strong> ({DATE_PRECISION_WORDS[event.date_precision]}
          {date_start === date_end ? '' : `; between ${date_start} and ${date_end}`})
        </p>
        {event.date_note ? <p>How the date was resolved: {event.date_note}</p> : <p class="muted">The sources state the date; no resolution was needed.</p>}

        <h2>Place</h2>
        <p>
          {placeLabel(location)}. Coordinates {location.lat}, {location.lon}: {LOCATION_PRECISION_WORDS[location.precision]}.
        </p>
        <PlaceMap location={location} />

        <h2>Casualties</h2>
        {event.casualties.length === 0 ? (
          <p>The sources give no casualty figures: not reported.</p>
        ) : (
          <table>
            <caption class="muted">A number the sources do not give is "not reported", never zero.</caption>
            <thead>
              <tr>
                <th scope="col">Group</th>
                <th scope="col">Killed</th>
                <th scope="col">Injured</th>
                <th scope="col">Note</th>
              </tr>
            </thead>
            <tbody>
              {event.casualties.map((casualty) => (
                <tr>
                  <th scope="row">{codeWords(casualty.group)}</th>
                  <td>{casualty.killed ?? 'not reported'}</td>
                  <td>{casualty.injured ?? 'not reported'}</td>
                  <td>{casualty.note ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <p class="muted">In words: {event.casualties.map((casualty) => `${codeWords(casualty.group)}: ${casualtyText(casualty)}`).join('. ') || 'no figures'}.</p>

        <h2>Actors</h2>
        {actors.length === 0 ? (
          <p>The sources name no actors.</p>
        ) : (
          <dl>
            {ACTOR_ROLES.filter((role) => actors.some((actor) => actor.role === role)).map((role) => (
              <>
                <dt>{ROLE_WORDS[role]}</dt>
                {actors
                  .filter((actor) => actor.role === role)
                  .map((actor) => (
                    <dd>
                      {actorById(actor.id) ? <a href={`/actors/${actor.id}`}>{actorDisplayName(actor)}</a> : actorDisplayName(actor)}
                      {actor.as_written !== actorDisplayName(actor) ? ` (the source: “${actor.as_written}”)` : ''}
                      {actor.source ? <blockquote>{actor.source.quote}</blockquote> : ''}
                    </dd>
                  ))}
              </>
            ))}
          </dl>
        )}

        <h2>Weapons</h2>
        <p>{event.weapons.length ? event.weapons.map(codeWords).join(', ') : 'not reported'}</p>

        <h2>Sources</h2>
        <ol class="sources">
          {event.sources.map((source) => (
            <li>
              <p>
                {source.publisher}: <a href={sourcePath(source.document)}>{source.document}</a>
                {source.supports?.length ? <span class="muted"> (backs: {source.supports.join(', ')})</span> : ''}
              </p>
              <blockquote class="quote">{source.quote}</blockquote>
            </li>
          ))}
        </ol>

        <h2>Related records</h2>
        {linked.length ? (
          <ul>
            {linked.map((each) => (
              <li>{each.event ? <EventLink event={each.event} /> : <span>{each.id} (not available)</span>}</li>
            ))}
          </ul>
        ) : (
          <p>This record names no related records.</p>
        )}
        <h3>Within {NEARBY_DAYS} days</h3>
        {nearby.length ? (
          <ul>
            {nearby.map((other) => (
              <li>
                <EventLink event={other} />
              </li>
            ))}
          </ul>
        ) : (
          <p>No other records within {NEARBY_DAYS} days.</p>
        )}
        <p>
          More: <a href={`/events?q=${encodeURIComponent(`"${location.name}"`)}`}>records mentioning {location.name}</a>
          {filters.slice(3).map(({ label, filter }) => (
            <>
              , <a href={`/events?${filter}`}>records naming {label}</a>
            </>
          ))}
          .
        </p>

        <h2>Reuse and follow</h2>
        <p>
          This record as JSON: <a href={`/events/${event.id}.json`}>{`/events/${event.id}.json`}</a> (the same as <code>{`curl ${origin}/events/${event.id}`}</code>).
        </p>
        <p>Feeds that carry it while it is among the newest of their filter:</p>
        <ul>
          {filters.map(({ label, filter }) => (
            <li>
              {label}:{' '}
              {feedLinks(origin, filter).map((feed, index) => (
                <>
                  {index ? ', ' : ''}
                  <a href={feed.url} type={feed.type}>
                    {feed.name}
                  </a>
                </>
              ))}
            </li>
          ))}
        </ul>
      </article>
    </Layout>
  );
}
