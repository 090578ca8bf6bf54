/**
 * A record's place on a small static map, for the record page: an inline SVG
 * that shows the region basemap (`/explorer/region.svg`, a static asset of
 * this origin: no script, no tiles) and a marker at the place, projected as
 * the basemap is (functions/domain/region-map.ts). The marker looks as in the
 * explorer's legend: filled for a site or city, pale near a named place,
 * hollow and dashed for a region or country; the caption says so, and says
 * when a place outside the map's region is shown at its edge.
 */
import { REGION_MAP_SIZE, regionMarker } from '../domain/region-map.ts';
import type { Event } from '../domain/schema.ts';
import { LOCATION_PRECISION_WORDS, MARKER_WORDS, type MarkerKind, placeLabel, PRECISION_MARKER } from './words.ts';

/** The static drawing of the region's country outlines (made by scripts/make-basemap.ts). */
const REGION_SVG = '/explorer/region.svg';

/** User units of white around the map inside the frame, so a marker clamped to the map's edge shows whole. */
const FRAME_MARGIN = 8;

/** The marker's circle by look, in map units: the explorer legend's grey, filled, pale or hollow and dashed. */
const MARKER_LOOK: Record<MarkerKind, Record<string, string>> = {
  exact: { r: '4', fill: '#454545', 'fill-opacity': '0.85', stroke: '#454545', 'stroke-width': '1.2' },
  approximate: { r: '5', fill: '#454545', 'fill-opacity': '0.3', stroke: '#454545', 'stroke-width': '1.2' },
  coarse: { r: '6', fill: 'none', stroke: '#454545', 'stroke-width': '1.8', 'stroke-dasharray': '3 2' },
};

/** The map of a record's place, with its caption. */
export function PlaceMap({ location }: { location: Event['location'] }) {
  const { width, height } = REGION_MAP_SIZE;
  const kind = PRECISION_MARKER[location.precision];
  const marker = regionMarker(location.lon, location.lat);
  const place = placeLabel(location);
  const outside = marker.clamped ? ' It lies outside the region this map shows: the marker is at the nearest edge, in its direction.' : '';
  return (
    <figure class="place-map">
      <svg
        role="img"
        aria-label={`Map of the region marking ${place} (${LOCATION_PRECISION_WORDS[location.precision]})${marker.clamped ? ', shown at the map’s edge' : ''}`}
        viewBox={`${-FRAME_MARGIN} ${-FRAME_MARGIN} ${width + 2 * FRAME_MARGIN} ${height + 2 * FRAME_MARGIN}`}
        width={width + 2 * FRAME_MARGIN}
        height={height + 2 * FRAME_MARGIN}
      >
        <image href={REGION_SVG} x="0" y="0" width={width} height={height} />
        <rect x="0" y="0" width={width} height={height} fill="none" stroke="#767676" stroke-width="0.5" />
        <circle class={`place-marker precision-${location.precision}`} cx={marker.x} cy={marker.y} {...MARKER_LOOK[kind]} />
      </svg>
      <figcaption class="muted">
        {place}. The marker is {MARKER_WORDS[kind]}.{outside} Country outlines: Natural Earth (public domain).
      </figcaption>
    </figure>
  );
}
