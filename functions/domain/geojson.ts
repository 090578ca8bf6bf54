/**
 * Events as a GeoJSON FeatureCollection (RFC 7946): one Point feature per
 * record, its coordinates in GeoJSON order, [longitude, latitude].
 */
import { flattenEvent, type FlatEvent } from './flat-event.ts';
import type { Event } from './schema.ts';

/** Media type of GeoJSON. */
export const GEOJSON_MEDIA_TYPE = 'application/geo+json';

/** One record as a feature; the position is in `geometry` only. */
export interface EventFeature {
  type: 'Feature';
  id: string;
  geometry: { type: 'Point'; coordinates: [lon: number, lat: number] };
  properties: Omit<FlatEvent, 'lat' | 'lon'>;
}

/** A page of records as a feature collection. */
export interface EventFeatureCollection {
  type: 'FeatureCollection';
  features: EventFeature[];
}

/** Builds the collection for `events`, in their order; `origin` makes record URLs absolute. */
export function toFeatureCollection(events: readonly Event[], origin: string): EventFeatureCollection {
  return {
    type: 'FeatureCollection',
    features: events.map((event) => {
      const { lat, lon, ...properties } = flattenEvent(event, origin);
      return { type: 'Feature', id: event.id, geometry: { type: 'Point', coordinates: [lon, lat] }, properties };
    }),
  };
}
