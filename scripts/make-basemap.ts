/**
 * Writes the explorer's basemap, `public/explorer/region.geojson`: the
 * country outlines around the dataset's region from Natural Earth's
 * countries (public domain, as TopoJSON in the `world-atlas` package),
 * converted to GeoJSON with `topojson-client`: the countries the records are
 * about (marked `focus`) at 1:50m, and the other countries with land in the
 * region at 1:110m, as context. Coordinates are rounded to 0.01° (about
 * 1 km), plenty for outlines at the explorer's zoom, to keep the file light.
 *
 * Run with `node scripts/make-basemap.ts` after updating `world-atlas`; the
 * file is committed (the explorer is served as static assets, with no build
 * step), and `tests/clients/basemap.test.ts` checks it is this script's output.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Feature, FeatureCollection, Geometry, Position } from 'geojson';
import { feature } from 'topojson-client';
import type { GeometryCollection, Topology } from 'topojson-specification';

/** Where the basemap is written, under the Workers Static Assets directory. */
export const BASEMAP_PATH = fileURLToPath(new URL('../public/explorer/region.geojson', import.meta.url));
/** Natural Earth's countries at a scale (`50m`, `110m`) as TopoJSON. */
const countriesPath = (scale: string): string => fileURLToPath(new URL(`../node_modules/world-atlas/countries-${scale}.json`, import.meta.url));

/** The countries the records are about and their neighbours in the region (ISO 3166-1 numeric codes, as Natural Earth ids them). */
const FOCUS = new Set(['368', '760', '400', '414', '792', '364', '682', '422', '376']);
/** The region shown: minLon, minLat, maxLon, maxLat. */
const REGION = [28, 12, 64, 43] as const;

const round = (value: number): number => Math.round(value * 100) / 100;

/** Every position of a geometry, rounded. */
function roundGeometry(geometry: Geometry): Geometry {
  const ring = (positions: Position[]) => positions.map(([lon, lat]) => [round(lon!), round(lat!)]);
  if (geometry.type === 'Polygon') return { type: 'Polygon', coordinates: geometry.coordinates.map(ring) };
  if (geometry.type === 'MultiPolygon') return { type: 'MultiPolygon', coordinates: geometry.coordinates.map((polygon) => polygon.map(ring)) };
  throw new Error(`unexpected geometry ${geometry.type} in the countries`);
}

/** Whether any position of a geometry lies in the region's box. */
function meetsRegion(geometry: Geometry): boolean {
  const [minLon, minLat, maxLon, maxLat] = REGION;
  const polygons = geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.type === 'MultiPolygon' ? geometry.coordinates : [];
  return polygons.some((polygon) => polygon.some((ring) => ring.some(([lon, lat]) => lon! >= minLon && lon! <= maxLon && lat! >= minLat && lat! <= maxLat)));
}

/** The countries of Natural Earth at `scale` that `keep` selects by id, with land in the region, as features. */
function countries(scale: string, keep: (id: string) => boolean): Feature[] {
  const topology = JSON.parse(readFileSync(countriesPath(scale), 'utf8')) as Topology<{ countries: GeometryCollection<{ name: string }> }>;
  return feature(topology, topology.objects.countries)
    .features.filter((country) => country.geometry && keep(String(country.id)) && meetsRegion(country.geometry))
    .map((country) => ({ type: 'Feature', properties: { name: country.properties.name, focus: FOCUS.has(String(country.id)) }, geometry: roundGeometry(country.geometry) }));
}

/** The basemap as GeoJSON text: the context countries first, so the focus countries are drawn over them. */
export function basemap(): string {
  const features = [...countries('110m', (id) => !FOCUS.has(id)), ...countries('50m', (id) => FOCUS.has(id))];
  const collection: FeatureCollection = { type: 'FeatureCollection', features };
  return `${JSON.stringify(collection)}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(BASEMAP_PATH, basemap());
  console.log(`wrote ${BASEMAP_PATH}`);
}
