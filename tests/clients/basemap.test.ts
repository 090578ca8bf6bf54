/**
 * The explorer's basemap (`public/explorer/region.geojson`, committed) is what
 * `npm run basemap` makes from the installed `world-atlas` (Natural Earth), and
 * holds the outlines of the countries the records are about.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { basemap, BASEMAP_PATH } from '../../scripts/make-basemap.ts';

describe('the explorer basemap', () => {
  it('is the output of scripts/make-basemap.ts, with the focus countries', () => {
    const committed = readFileSync(BASEMAP_PATH, 'utf8');
    expect(committed, 'run `npm run basemap` and commit public/explorer/region.geojson').toBe(basemap());
    const countries = (JSON.parse(committed) as { features: Array<{ properties: { name: string; focus: boolean } }> }).features;
    expect(countries.filter((country) => country.properties.focus).map((country) => country.properties.name).sort()).toEqual(['Iran', 'Iraq', 'Israel', 'Jordan', 'Kuwait', 'Lebanon', 'Saudi Arabia', 'Syria', 'Turkey']);
  });
});
