/**
 * The basemaps (`public/explorer/region.geojson` for the explorer and
 * `region.svg` for the record pages' map, both committed) are what
 * `npm run basemap` makes from the installed `world-atlas` (Natural Earth):
 * the GeoJSON holds the outlines of the countries the records are about, and
 * the SVG is a light drawing of them over the region map's projection.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { REGION_MAP_SIZE } from '../../functions/domain/region-map.ts';
import { basemap, BASEMAP_PATH, BASEMAP_SVG_PATH, basemapSvg } from '../../scripts/make-basemap.ts';

describe('the basemaps', () => {
  it('GeoJSON: is the output of scripts/make-basemap.ts, with the focus countries', () => {
    const committed = readFileSync(BASEMAP_PATH, 'utf8');
    expect(committed, 'run `npm run basemap` and commit public/explorer/region.geojson').toBe(basemap());
    const countries = (JSON.parse(committed) as { features: Array<{ properties: { name: string; focus: boolean } }> }).features;
    expect(countries.filter((country) => country.properties.focus).map((country) => country.properties.name).sort()).toEqual(['Iran', 'Iraq', 'Israel', 'Jordan', 'Kuwait', 'Lebanon', 'Saudi Arabia', 'Syria', 'Turkey']);
  });

  it('SVG: is the output of scripts/make-basemap.ts, light, sized as the region map, with an outline per country', () => {
    const committed = readFileSync(BASEMAP_SVG_PATH, 'utf8');
    expect(committed, 'run `npm run basemap` and commit public/explorer/region.svg').toBe(basemapSvg());
    expect(committed.length).toBeLessThan(40_000);
    const { width, height } = REGION_MAP_SIZE;
    expect(committed).toMatch(new RegExp(`^<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`));
    const countries = (JSON.parse(readFileSync(BASEMAP_PATH, 'utf8')) as { features: unknown[] }).features.length;
    const paths = committed.match(/<path d="M[-\d. MZ]+"\/>/g) ?? [];
    expect(paths.length).toBeGreaterThan(20);
    expect(paths.length).toBeLessThanOrEqual(countries);
    expect(committed).not.toMatch(/<(script|image|use)\b|href=/);
  });
});
