/**
 * The explorer (`GET /` for browsers): the dashboard a user would otherwise
 * build on the API. The server renders the frame: the filter form (filled
 * from the URL's query; a GET to the `/events` list, so it works without
 * JavaScript), empty sections for the map, the timeline, the counts and the
 * list, and the endpoints. Its script, `/explorer/explorer.js` (a static
 * asset, as are Leaflet, uPlot and the basemap), fills them from the public
 * JSON API (`/events`, `/stats`) and keeps them and the URL in step with the
 * form.
 */
import { feedLinks, filterParameters } from '../domain/follow.ts';
import { FilterForm } from './events-page.tsx';
import { Layout } from './layout.tsx';
import { MARKER_KINDS, MARKER_WORDS, type MarkerKind } from './words.ts';

/** Static assets the explorer loads, all from this origin (`public/`). */
export const EXPLORER_ASSETS = {
  styles: ['/vendor/leaflet.css', '/vendor/uplot.css', '/explorer/explorer.css'],
  script: '/explorer/explorer.js',
};

/** What the explorer page shows. */
export interface ExplorerPageProps {
  origin: string;
  /** The query of the URL, which the form shows and the script applies. */
  query: URLSearchParams;
  /** The API's endpoints with a description each (`GET /`'s JSON). */
  endpoints: Readonly<Record<string, { description: string }>>;
}

/** A sample of a marker style, for the map's legend. */
function MarkerSample({ kind }: { kind: MarkerKind }) {
  return (
    <svg class="sample" width="18" height="18" viewBox="0 0 18 18" aria-hidden="true">
      <circle cx="9" cy="9" r="6" class={`sample-${kind}`} />
    </svg>
  );
}

/** A table the script fills, with its caption and column headings. */
function CountsTable({ id, caption, columns }: { id: string; caption: string; columns: readonly string[] }) {
  return (
    <table id={id} class="counts">
      <caption class="muted">{caption}</caption>
      <thead>
        <tr>
          {columns.map((column) => (
            <th scope="col">{column}</th>
          ))}
        </tr>
      </thead>
      <tbody />
    </table>
  );
}

/** The page. */
export function ExplorerPage({ origin, query, endpoints }: ExplorerPageProps) {
  const filter = filterParameters(query);
  const head = (
    <>
      {EXPLORER_ASSETS.styles.map((href) => (
        <link rel="stylesheet" href={href} />
      ))}
      <script type="module" src={EXPLORER_ASSETS.script} />
    </>
  );
  return (
    <Layout title="Explorer" feeds={feedLinks(origin, filter)} head={head}>
      <h1>Explorer</h1>
      <p>
        Attacks on US and partner forces by Iran-aligned militias in Iraq and Syria, and the US strikes, embassy incidents and deployments around them: on a map, by month, counted and listed. Everything here comes
        from the public JSON API (<code>/events</code>, <code>/stats</code>); the URL keeps the filter, so it can be shared.
      </p>
      <noscript>
        <p class="panel">The map, timeline and counts need JavaScript. The filter below opens the list of records, which does not.</p>
      </noscript>
      <h2>Filter</h2>
      <FilterForm query={query} place="explorer" />
      <p id="explorer-status" class="status" role="status" aria-live="polite" />
      <div id="explorer-error" class="error" role="alert" hidden />
      <div id="dashboard" hidden>
        <div class="dashboard-grid">
          <section aria-labelledby="map-heading">
            <h2 id="map-heading">Map</h2>
            <div id="map" aria-label="Map of the records matching the filter; the list below holds the same records" />
            <ul class="legend" aria-label="Map legend">
              {MARKER_KINDS.map((kind) => (
                <li>
                  <MarkerSample kind={kind} /> {MARKER_WORDS[kind]}
                </li>
              ))}
              <li id="legend-types" class="legend-types" />
            </ul>
            <p class="muted small">Country outlines: Natural Earth (public domain). No map tiles: nothing is loaded from elsewhere.</p>
          </section>
          <section aria-labelledby="timeline-heading">
            <h2 id="timeline-heading">Timeline</h2>
            <div id="timeline" role="img" aria-label="Records per month, as a bar chart; the table below gives the same figures" />
            <details>
              <summary>Records per month as a table</summary>
              <CountsTable id="timeline-table" caption="Records per month (GET /stats, by_month)" columns={['Month', 'Records']} />
            </details>
          </section>
        </div>
        <h2>Counts</h2>
        <p id="counts-total" />
        <div class="counts-grid">
          <section aria-labelledby="counts-type-heading">
            <h3 id="counts-type-heading">By type</h3>
            <CountsTable id="counts-type" caption="Records of each type" columns={['Type', 'Records']} />
          </section>
          <section aria-labelledby="counts-group-heading">
            <h3 id="counts-group-heading">By casualty group</h3>
            <CountsTable
              id="counts-group"
              caption="Figures the sources give, per group (never summed across groups); not reported: figures of the group with no number"
              columns={['Group', 'Records', 'Killed', 'Injured', 'Not reported']}
            />
          </section>
          <section aria-labelledby="counts-role-heading" class="wide">
            <h3 id="counts-role-heading">By actor role</h3>
            <CountsTable id="counts-role" caption="Records naming each actor in each role" columns={['Actor', 'Perpetrator', 'Claimed by', 'Target', 'Directed by']} />
          </section>
        </div>
        <h2>Records</h2>
        <ol id="records" class="events" />
        <h2>Follow this</h2>
        <ul id="follow" />
      </div>
      <h2>API</h2>
      <p>
        The same data for your own dashboard: <a href="/docs">the API reference</a>, <a href="/openapi.json">its OpenAPI description</a>, and <code>GET /</code> with <code>Accept: application/json</code>.
      </p>
      <details>
        <summary>Endpoints</summary>
        <dl>
          {Object.entries(endpoints).map(([name, endpoint]) => (
            <>
              <dt>
                <code>{name}</code>
              </dt>
              <dd>{endpoint.description}</dd>
            </>
          ))}
        </dl>
      </details>
    </Layout>
  );
}
