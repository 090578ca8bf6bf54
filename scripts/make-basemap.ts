/**
 * Writes the basemaps: `public/explorer/region.geojson` for the explorer and
 * `public/explorer/region.svg`, a light static drawing of the same outlines
 * for the record pages' small map. They hold the country outlines around the
 * dataset's region from Natural Earth's
 * countries (public domain, as TopoJSON in the `world-atlas` package),
 * converted to GeoJSON with `topojson-client`: the countries the records are
 * about (marked `focus`) at 1:50m, and the other countries with land in the
 * region at 1:110m, as context. Coordinates are rounded to 0.01° (about
 * 1 km), plenty for outlines at the explorer's zoom, to keep the file light.
 * The SVG projects them with `projectToRegion` (functions/domain/region-map.ts,
 * which the record page marks places with), clips them to just beyond the
 * region's box, and draws them to 0.1 unit (about 1 km again).
 *
 * Run with `node scripts/make-basemap.ts` after updating `world-atlas`; the
 * files are committed (they are served as static assets, with no build step),
 * and `tests/clients/basemap.test.ts` checks they are this script's output.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Feature, FeatureCollection, Geometry, Position } from 'geojson';
import { feature } from 'topojson-client';
import type { GeometryCollection, Topology } from 'topojson-specification';
import { projectToRegion, REGION_BOX, REGION_MAP_SIZE, roundUnits, type MapPoint } from '../functions/domain/region-map.ts';

/** Where the basemap is written, under the Workers Static Assets directory. */
export const BASEMAP_PATH = fileURLToPath(new URL('../public/explorer/region.geojson', import.meta.url));
/** Where the static drawing of the basemap is written, next to it. */
export const BASEMAP_SVG_PATH = fileURLToPath(new URL('../public/explorer/region.svg', import.meta.url));
/** Natural Earth's countries at a scale (`50m`, `110m`) as TopoJSON. */
const countriesPath = (scale: string): string => fileURLToPath(new URL(`../node_modules/world-atlas/countries-${scale}.json`, import.meta.url));

/** The countries the records are about and their neighbours in the region (ISO 3166-1 numeric codes, as Natural Earth ids them). */
const FOCUS = new Set(['368', '760', '400', '414', '792', '364', '682', '422', '376']);

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
  const [minLon, minLat, maxLon, maxLat] = REGION_BOX;
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

/** The basemap's countries: the context countries first, so the focus countries are drawn over them. */
const regionCountries = (): Feature[] => [...countries('110m', (id) => !FOCUS.has(id)), ...countries('50m', (id) => FOCUS.has(id))];

/** The basemap as GeoJSON text. */
export function basemap(): string {
  const collection: FeatureCollection = { type: 'FeatureCollection', features: regionCountries() };
  return `${JSON.stringify(collection)}\n`;
}

/** User units beyond the map's edges that outlines are kept to, so clipping leaves no line inside the map. */
const CLIP_MARGIN = 5;

/** A side of the clipping rectangle: which points are on its inner side, and where a segment crosses it. */
interface ClipEdge {
  inside: (point: MapPoint) => boolean;
  cross: (from: MapPoint, to: MapPoint) => MapPoint;
}

/** Where the segment from `a` to `b` crosses the vertical line at `x`, or the horizontal line at `y`. */
const crossAtX = (x: number, a: MapPoint, b: MapPoint): MapPoint => ({ x, y: roundUnits(a.y + ((x - a.x) / (b.x - a.x)) * (b.y - a.y)) });
const crossAtY = (y: number, a: MapPoint, b: MapPoint): MapPoint => ({ x: roundUnits(a.x + ((y - a.y) / (b.y - a.y)) * (b.x - a.x)), y });

/** The map plus CLIP_MARGIN on every side, as the four edges outlines are clipped at. */
const CLIP_EDGES: readonly ClipEdge[] = (() => {
  const [left, top, right, bottom] = [-CLIP_MARGIN, -CLIP_MARGIN, REGION_MAP_SIZE.width + CLIP_MARGIN, REGION_MAP_SIZE.height + CLIP_MARGIN];
  return [
    { inside: (point) => point.x >= left, cross: (a, b) => crossAtX(left, a, b) },
    { inside: (point) => point.x <= right, cross: (a, b) => crossAtX(right, a, b) },
    { inside: (point) => point.y >= top, cross: (a, b) => crossAtY(top, a, b) },
    { inside: (point) => point.y <= bottom, cross: (a, b) => crossAtY(bottom, a, b) },
  ];
})();

/** A projected ring clipped to CLIP_EDGES (Sutherland–Hodgman, one edge at a time), without repeated points. */
function clipRing(ring: MapPoint[]): MapPoint[] {
  let points = ring;
  for (const { inside, cross } of CLIP_EDGES) {
    const kept = points;
    points = kept.flatMap((point, index) => {
      const previous = kept[(index + kept.length - 1) % kept.length]!;
      if (inside(point)) return inside(previous) ? [point] : [cross(previous, point), point];
      return inside(previous) ? [cross(previous, point)] : [];
    });
  }
  return points.filter((point, index) => index === 0 || point.x !== points[index - 1]!.x || point.y !== points[index - 1]!.y);
}

/** A country's outline as SVG path data, projected and clipped. */
function pathData(geometry: Geometry): string {
  const polygons = geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.type === 'MultiPolygon' ? geometry.coordinates : [];
  return polygons
    .flatMap((polygon) => polygon.map((ring) => clipRing(ring.map(([lon, lat]) => projectToRegion(lon!, lat!)))))
    .filter((ring) => ring.length >= 3)
    .map((ring) => `M${ring.map(({ x, y }) => `${x} ${y}`).join(' ')}Z`)
    .join('');
}

/** The basemap as a static SVG drawing: sea, context countries, focus countries, with the explorer's colours. */
export function basemapSvg(): string {
  const { width, height } = REGION_MAP_SIZE;
  const features = regionCountries();
  const group = (focus: boolean, look: string) =>
    `<g ${look}>\n${features
      .filter((country) => country.properties?.focus === focus)
      .map((country) => pathData(country.geometry))
      .filter(Boolean)
      .map((data) => `<path d="${data}"/>\n`)
      .join('')}</g>\n`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">\n`,
    '<!-- Country outlines: Natural Earth (public domain) via world-atlas; made by scripts/make-basemap.ts -->\n',
    `<rect width="${width}" height="${height}" fill="#cfe0ee"/>\n`,
    group(false, 'fill="#e8e6e1" stroke="#9ca3af" stroke-width="0.4" stroke-linejoin="round"'),
    group(true, 'fill="#f4f1ea" stroke="#6b7280" stroke-width="0.6" stroke-linejoin="round"'),
    '</svg>\n',
  ].join('');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(BASEMAP_PATH, basemap());
  writeFileSync(BASEMAP_SVG_PATH, basemapSvg());
  console.log(`wrote ${BASEMAP_PATH} and ${BASEMAP_SVG_PATH}`);
}
