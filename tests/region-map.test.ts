/**
 * The region map's projection (functions/domain/region-map.ts), which both the
 * static basemap drawing and the record page's marker use: the box's corners
 * are the map's corners, a known place lands where the equirectangular
 * projection puts it, and a place outside the box is clamped to the edge.
 */
import { describe, expect, it } from 'vitest';
import { projectToRegion, REGION_BOX, REGION_MAP_SIZE, regionMarker } from '../functions/domain/region-map.ts';

describe('the region map projection', () => {
  it('maps the region box onto the whole map, north-west at the origin', () => {
    const [minLon, minLat, maxLon, maxLat] = REGION_BOX;
    expect(projectToRegion(minLon, maxLat)).toEqual({ x: 0, y: 0 });
    expect(projectToRegion(maxLon, minLat)).toEqual({ x: REGION_MAP_SIZE.width, y: REGION_MAP_SIZE.height });
    // 10 units per degree of latitude; a degree of longitude shrunk by cos(27.5°), the box's middle latitude.
    expect(REGION_MAP_SIZE).toEqual({ width: 319.3, height: 310 });
  });

  it('puts a known place where the equirectangular projection does, to 0.1 unit', () => {
    // Al-Asad Air Base: 42.4412 E, 33.7856 N.
    expect(projectToRegion(42.4412, 33.7856)).toEqual({ x: 128.1, y: 92.1 });
    expect(regionMarker(42.4412, 33.7856)).toEqual({ x: 128.1, y: 92.1, clamped: false });
  });

  it.each([
    [66.5, 25, { x: 319.3, y: 180, clamped: true }],
    [20, 50, { x: 0, y: 0, clamped: true }],
    [45, 5, { x: 150.8, y: 310, clamped: true }],
    [64, 12, { x: 319.3, y: 310, clamped: false }],
  ])('clamps %d E %d N to the map and says whether it had to', (lon, lat, marker) => {
    expect(regionMarker(lon, lat)).toEqual(marker);
  });
});
