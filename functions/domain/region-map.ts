/**
 * The region map's projection, shared by the script that draws the static
 * basemap (`scripts/make-basemap.ts` → `public/explorer/region.svg`) and the
 * record page that marks a place on it: equirectangular over a fixed box,
 * with the box's middle latitude as standard parallel (so shapes there keep
 * their proportions), in SVG user units with y downwards.
 */

/** The region the basemaps cover: minLon, minLat, maxLon, maxLat (degrees, WGS84). */
export const REGION_BOX = [28, 12, 64, 43] as const;

/** User units per degree of latitude. */
const UNITS_PER_DEGREE = 10;
const [MIN_LON, MIN_LAT, MAX_LON, MAX_LAT] = REGION_BOX;
/** Units per degree of longitude: shrunk by the cosine of the standard parallel, the box's middle latitude. */
const UNITS_PER_LON_DEGREE = UNITS_PER_DEGREE * Math.cos((((MIN_LAT + MAX_LAT) / 2) * Math.PI) / 180);

/** A length in user units, to 0.1 unit (0.01° of latitude, the basemap's precision). */
export const roundUnits = (value: number): number => Math.round(value * 10) / 10;

/** The region map's size in user units: its SVG's `viewBox` is `0 0 width height`. */
export const REGION_MAP_SIZE = {
  width: roundUnits((MAX_LON - MIN_LON) * UNITS_PER_LON_DEGREE),
  height: roundUnits((MAX_LAT - MIN_LAT) * UNITS_PER_DEGREE),
} as const;

/** A point on the region map. */
export interface MapPoint {
  x: number;
  y: number;
}

/** Where a longitude and latitude fall on the region map, unclamped (outside the box it lies outside the map). */
export function projectToRegion(lon: number, lat: number): MapPoint {
  return { x: roundUnits((lon - MIN_LON) * UNITS_PER_LON_DEGREE), y: roundUnits((MAX_LAT - lat) * UNITS_PER_DEGREE) };
}

/** A place's marker position on the region map: the projected point, moved to the nearest edge when it lies outside (`clamped`). */
export function regionMarker(lon: number, lat: number): MapPoint & { clamped: boolean } {
  const projected = projectToRegion(Math.min(Math.max(lon, MIN_LON), MAX_LON), Math.min(Math.max(lat, MIN_LAT), MAX_LAT));
  const clamped = lon < MIN_LON || lon > MAX_LON || lat < MIN_LAT || lat > MAX_LAT;
  return { ...projected, clamped };
}
