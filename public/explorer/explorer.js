/**
 * The explorer's script (a static asset: a plain ES module, no build step).
 * It is an outside dashboard that happens to live on this origin: it reads
 * only the public JSON API, every page of `GET /events` for the map and the
 * list and `GET /stats` for the timeline and the counts, with the filter of
 * the page's form. Changing the form updates all of them and the URL
 * (`/?<the /events filter>`), so a view can be shared, and loading such a URL
 * (or going back) restores its filter. Nothing is loaded from another origin:
 * Leaflet, uPlot and the basemap (Natural Earth outlines) are static assets.
 */
import * as L from '/vendor/leaflet.js';
import uPlot from '/vendor/uplot.js';

/** Records per request: the API's maximum. */
const PAGE_SIZE = 500;
/** Most records the explorer loads for one filter (20 pages). */
const MAX_RECORDS = 10_000;
/** Milliseconds a typed value must stay unchanged before it is applied. */
const TYPING_PAUSE_MS = 500;
/** Parameters of a list page's URL that choose the page, not the records: the explorer loads every page. */
const PAGING = ['limit', 'cursor'];
/** The region the basemap covers and the map opens on: [[south, west], [north, east]]. */
const REGION_BOUNDS = [
  [12, 28],
  [43, 64],
];
/** Marker colour of each record type (on the light basemap; the legend names them). */
const TYPE_COLOURS = { attack: '#b3261e', strike: '#1d4ed8', incident: '#8a4b00', deployment: '#1b6b3a' };
/** How exact each location precision is, as the marker shows it. */
const PRECISION_STYLE = { site: 'exact', city: 'exact', approximate: 'approximate', region: 'coarse', country: 'coarse' };
const ROLES = ['perpetrator', 'claimant', 'target', 'directed_by'];

const form = document.getElementById('filters');
const status = document.getElementById('explorer-status');
const errorBox = document.getElementById('explorer-error');
const countryNames = new Intl.DisplayNames(['en'], { type: 'region' });
const dayFormat = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' });
const monthFormat = new Intl.DateTimeFormat('en-GB', { month: 'short', year: 'numeric', timeZone: 'UTC' });

/** A code such as `one_way_attack_drone` in words. */
const words = (code) => code.replace(/_/g, ' ');

/** A country's English name from its ISO code. */
function countryName(code) {
  try {
    return countryNames.of(code) ?? code;
  } catch {
    return code;
  }
}

/** A place with its country, unless its name already says it (as the pages write it: functions/pages/words.ts placeLabel). */
function placeLabel(location) {
  const country = countryName(location.country);
  const escaped = country.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^\\p{L}])${escaped}($|[^\\p{L}])`, 'u').test(location.name) ? location.name : `${location.name}, ${country}`;
}

/** A record's date at its precision: "25 Dec 2023", "Jan 2024", or its window "27 Dec 2019 – 5 Jan 2020". */
function dateText(event) {
  const day = (iso) => dayFormat.format(new Date(`${iso}T00:00:00Z`));
  if (event.date_precision === 'month') return monthFormat.format(new Date(`${event.date}T00:00:00Z`));
  return event.date_start === event.date_end ? day(event.date_start) : `${day(event.date_start)} – ${day(event.date_end)}`;
}

/** An element with a class and text (text only: record fields are never parsed as HTML). */
function element(tag, text, className) {
  const made = document.createElement(tag);
  if (text !== undefined) made.textContent = String(text);
  if (className) made.className = className;
  return made;
}

/** The filter the form holds, in form order, empty controls left out and each list parameter as one comma-separated value. */
function filterFromForm() {
  const values = new Map();
  for (const [name, value] of new FormData(form)) {
    if (value === '') continue;
    values.set(name, [...(values.get(name) ?? []), value]);
  }
  return new URLSearchParams([...values].map(([name, list]) => [name, list.join(',')]));
}

/** The filter of a URL's query, paging left out. */
const filterFromQuery = (search) => new URLSearchParams([...new URLSearchParams(search)].filter(([name]) => !PAGING.includes(name)));

/** Puts a filter into the form (after going back, or on load when the browser restored other values). */
function showFilterInForm(filter) {
  for (const control of form.elements) {
    if (!control.name) continue;
    const given = filter.getAll(control.name).flatMap((value) => value.split(',').map((part) => part.trim()));
    if (control.type === 'checkbox') control.checked = given.includes(control.value);
    else if (control.tagName === 'SELECT' || control.tagName === 'INPUT') control.value = filter.get(control.name) ?? '';
  }
}

/** `?query` (commas left as they are, for readable URLs), or nothing. */
const withQuery = (params) => (params.size ? `?${String(params).replace(/%2C/gi, ',')}` : '');

/** An API error as one sentence, from the JSON error body. */
class ApiError extends Error {}

/** GET a JSON resource of the API, throwing an ApiError with the API's own message on a 4xx or 5xx. */
async function getJson(path, signal) {
  const response = await fetch(path, { headers: { accept: 'application/json' }, signal });
  const body = await response.json();
  if (!response.ok) throw new ApiError(body?.error?.message ?? `${path} answered ${response.status}`);
  return body;
}

/** Every record matching `filter`, following `next_cursor` (at most MAX_RECORDS); and whether there were more. */
async function allEvents(filter, signal) {
  const events = [];
  let cursor = null;
  do {
    const query = new URLSearchParams(filter);
    query.set('limit', String(PAGE_SIZE));
    if (cursor) query.set('cursor', cursor);
    const page = await getJson(`/events?${query}`, signal);
    events.push(...page.data);
    cursor = page.next_cursor;
  } while (cursor && events.length < MAX_RECORDS);
  return { events, truncated: cursor !== null };
}

// ---- map -------------------------------------------------------------------

const dashboard = document.getElementById('dashboard');
dashboard.hidden = false; // before the map is made, so that it has a size
const map = L.map('map', { zoomSnap: 0.25, minZoom: 3, maxZoom: 12, maxBounds: L.latLngBounds(REGION_BOUNDS).pad(0.5), attributionControl: true });
map.attributionControl.setPrefix('Leaflet').addAttribution('Outlines: Natural Earth');
/** The view the map opens on: Iraq and Syria with their neighbours' borders. */
const HOME_VIEW = [
  [29, 34],
  [38.5, 49],
];
map.fitBounds(HOME_VIEW);
const markers = L.featureGroup().addTo(map);
fetch('/explorer/region.geojson')
  .then((response) => response.json())
  .then((basemap) => {
    L.geoJSON(basemap, {
      interactive: false,
      style: (country) =>
        country.properties.focus ? { color: '#6b7280', weight: 1, fillColor: '#f4f1ea', fillOpacity: 1 } : { color: '#9ca3af', weight: 0.6, fillColor: '#e8e6e1', fillOpacity: 1 },
    })
      .addTo(map)
      .bringToBack();
  })
  .catch((error) => console.warn('basemap not loaded', error));

/** A record's popup: its title linked to its page, date, type and place. */
function popup(event) {
  const box = element('div');
  const link = element('a', event.title);
  link.href = `/events/${encodeURIComponent(event.id)}`;
  box.append(link, element('br'), element('span', `${dateText(event)} · ${words(event.type)} · ${event.location.name} (${words(event.location.precision)})`));
  return box;
}

/** One marker per record: colour by type; filled for a site or city, pale near a place, hollow and dashed for a region or country. */
function showOnMap(events) {
  markers.clearLayers();
  for (const event of events) {
    const style = PRECISION_STYLE[event.location.precision] ?? 'coarse';
    const colour = TYPE_COLOURS[event.type] ?? '#333333';
    L.circleMarker([event.location.lat, event.location.lon], {
      radius: style === 'exact' ? 7 : 9,
      color: colour,
      weight: style === 'coarse' ? 2.5 : 1.5,
      dashArray: style === 'coarse' ? '4 3' : null,
      fillColor: colour,
      fillOpacity: { exact: 0.85, approximate: 0.3, coarse: 0 }[style],
      className: `event-marker precision-${event.location.precision} type-${event.type}`,
    })
      .bindPopup(() => popup(event))
      .bindTooltip(event.title)
      .addTo(markers);
  }
  map.fitBounds(events.length ? markers.getBounds().pad(0.15) : HOME_VIEW, { maxZoom: 7 });
  map.getContainer().setAttribute('aria-label', `Map of the ${events.length} records matching the filter; the list below holds the same records`);
}

/** The legend's colours, one per type. */
function showTypeLegend() {
  const legend = document.getElementById('legend-types');
  legend.replaceChildren(
    ...Object.entries(TYPE_COLOURS).map(([type, colour]) => {
      const key = element('span', undefined, 'swatch');
      key.style.background = colour;
      const item = element('span', undefined, 'legend-type');
      item.append(key, ` ${type}`);
      return item;
    }),
  );
}

// ---- timeline --------------------------------------------------------------

const timelineBox = document.getElementById('timeline');
let timeline = null;

/** Seconds since 1970 of the first day of a `YYYY-MM` month. */
const monthSeconds = (key) => Date.parse(`${key.slice(0, 7)}-01T00:00:00Z`) / 1000;

/** Records per month (`/stats` `by_month`, empty months included) as bars, and as the table beside them. */
function showTimeline(byMonth) {
  const xs = byMonth.map((bucket) => monthSeconds(bucket.key));
  const ys = byMonth.map((bucket) => bucket.events);
  const width = Math.max(280, timelineBox.clientWidth);
  if (timeline) timeline.destroy();
  timeline = new uPlot(
    {
      width,
      height: 220,
      legend: { show: false },
      cursor: { y: false, drag: { x: false, y: false } },
      scales: { x: { time: true, range: (_, min, max) => [min - 20 * 86400, max + 20 * 86400] }, y: { range: (_, min, max) => [0, Math.max(1, max)] } },
      axes: [
        { stroke: '#1b1b1b', grid: { show: false } },
        { stroke: '#1b1b1b', grid: { stroke: '#e5e7eb' }, incrs: [1, 2, 5, 10, 20, 50, 100], values: (_, ticks) => ticks.map((tick) => String(tick)) },
      ],
      series: [{}, { label: 'Records', stroke: '#0a4fc4', fill: 'rgba(10, 79, 196, 0.55)', paths: uPlot.paths.bars({ size: [0.8, 24] }), points: { show: false } }],
    },
    [xs, ys],
    timelineBox,
  );
  timelineBox.dataset.months = String(byMonth.length);
  timelineBox.dataset.records = String(ys.reduce((sum, count) => sum + count, 0));
  fillTable(
    'timeline-table',
    byMonth.map((bucket) => [monthFormat.format(new Date(monthSeconds(bucket.key) * 1000)), bucket.events]),
  );
}

// ---- counts and list ---------------------------------------------------------

/** Fills a table's body with rows of cells (text, or an element), the first cell of each row its heading. */
function fillTable(id, rows) {
  const body = document.querySelector(`#${id} tbody`);
  body.replaceChildren(
    ...rows.map((cells) => {
      const row = element('tr');
      row.append(
        ...cells.map((cell, index) => {
          const made = element(index ? 'td' : 'th');
          if (cell instanceof Node) made.append(cell);
          else made.textContent = String(cell ?? '');
          return made;
        }),
      );
      row.firstChild.setAttribute('scope', 'row');
      return row;
    }),
  );
}

/** A count with a bar proportional to the largest, for a table cell. */
function barCell(count, largest) {
  const cell = element('span', undefined, 'bar-cell');
  const bar = element('span', undefined, 'bar');
  bar.style.width = `${largest ? (100 * count) / largest : 0}%`;
  cell.append(bar, element('span', count, 'bar-count'));
  return cell;
}

/** Counts by type, by actor role and by casualty group (`/stats`). */
function showCounts(stats) {
  const { total } = stats;
  const answered = total.has_casualties;
  document.getElementById('counts-total').textContent =
    `${total.events} records: ${answered.true} with casualties reported, ${answered.false} reported without, ${answered.unknown} with no number reported.`;
  const largest = Math.max(0, ...stats.by_type.map((bucket) => bucket.events));
  fillTable(
    'counts-type',
    stats.by_type.map((bucket) => [words(bucket.key), barCell(bucket.events, largest)]),
  );
  fillTable(
    'counts-role',
    [...stats.by_actor].sort((a, b) => b.events - a.events).map((actor) => [actor.name, ...ROLES.map((role) => actor[role] || '')]),
  );
  fillTable(
    'counts-group',
    total.by_group.map((group) => [words(group.group), group.events, group.killed, group.injured, group.killed_not_reported + group.injured_not_reported]),
  );
}

/** A casualty figure in words: "4 injured", or "killed: not reported" when the sources give no number (unknown is not zero). */
const figureText = (figure, what) => (figure === null ? `${what}: not reported` : `${figure} ${what}`);

/** The list of records, each linked to its page. */
function showList(events) {
  document.getElementById('records').replaceChildren(
    ...events.map((event) => {
      const item = element('li');
      const link = element('a', event.title);
      link.href = `/events/${encodeURIComponent(event.id)}`;
      const casualties = event.casualties.map((casualty) => `${words(casualty.group)}: ${figureText(casualty.killed, 'killed')}, ${figureText(casualty.injured, 'injured')}`).join('; ');
      item.append(
        element('span', dateText(event), 'date'),
        ' ',
        link,
        element('br'),
        element('span', `${words(event.type)} · ${placeLabel(event.location)} (${words(event.location.precision)}) · ${casualties || 'no casualty figures reported'}`, 'muted'),
      );
      return item;
    }),
  );
}

/** Links to follow the filter elsewhere: its list page, feeds and downloads. */
function showFollowLinks(filter) {
  const query = withQuery(filter);
  const links = [
    ['The list of these records (works without JavaScript)', `/events${query}`],
    ['RSS 2.0 feed', `/feed.rss${query}`],
    ['Atom feed', `/feed.atom${query}`],
    ['JSON Feed', `/feed.json${query}`],
    ['GeoJSON (first page)', `/events.geojson${query}`],
    ['CSV (first page)', `/events.csv${query}`],
    ['Statistics as JSON', `/stats${query}`],
  ];
  document.getElementById('follow').replaceChildren(
    ...links.map(([text, href]) => {
      const item = element('li');
      const link = element('a', text);
      link.href = href;
      item.append(link);
      return item;
    }),
  );
}

// ---- the loop: form -> URL -> API -> views ---------------------------------

let current = null;
/** The filter shown (or being loaded), as a query string. */
let shown = null;

/** Loads and shows everything for `filter`; a newer call cancels an older one. */
async function show(filter) {
  shown = String(filter);
  current?.abort();
  const controller = new AbortController();
  current = controller;
  status.textContent = 'Loading…';
  document.body.setAttribute('aria-busy', 'true');
  try {
    const statsQuery = withQuery(filter);
    const [{ events, truncated }, stats] = await Promise.all([allEvents(filter, controller.signal), getJson(`/stats${statsQuery}`, controller.signal)]);
    errorBox.hidden = true;
    dashboard.hidden = false;
    map.invalidateSize();
    showOnMap(events);
    showTimeline(stats.data.by_month);
    showCounts(stats.data);
    showList(events);
    showFollowLinks(filter);
    const partial = stats.partial ? ' The timeline and counts cover only the newest records a text or map search scans in one request (/stats gives the rest with next_cursor).' : '';
    status.textContent = `${events.length} ${events.length === 1 ? 'record' : 'records'}${truncated ? ` (the first ${events.length}; narrow the filter to see the rest)` : ''}.${partial}`;
  } catch (error) {
    if (controller.signal.aborted) return;
    status.textContent = '';
    errorBox.textContent = error instanceof ApiError ? error.message : `The API could not be reached: ${error.message}`;
    errorBox.hidden = false;
    dashboard.hidden = true;
    if (!(error instanceof ApiError)) console.error(error);
  } finally {
    if (current === controller) document.body.removeAttribute('aria-busy');
  }
}

/** Applies the form's filter: a new history entry with the filter in the URL, then the views. */
function applyForm() {
  const filter = filterFromForm();
  if (String(filter) === shown) return;
  history.pushState(null, '', `/${withQuery(filter)}`);
  show(filter);
}

let typing = 0;
form.addEventListener('submit', (event) => {
  event.preventDefault();
  clearTimeout(typing);
  applyForm();
});
form.addEventListener('change', () => {
  clearTimeout(typing);
  applyForm();
});
form.addEventListener('input', (event) => {
  if (event.target.type !== 'text' && event.target.type !== 'search') return;
  clearTimeout(typing);
  typing = setTimeout(applyForm, TYPING_PAUSE_MS);
});
window.addEventListener('popstate', () => {
  const filter = filterFromQuery(location.search);
  showFilterInForm(filter);
  show(filter);
});

showTypeLegend();
const initial = filterFromQuery(location.search);
showFilterInForm(initial);
show(initial);
