/**
 * The words the pages use for the dataset's codes: roles, weapons, casualty
 * groups, precisions, map markers and country names.
 */
import type { ActorRole, Event } from '../domain/schema.ts';

/** A code such as `one_way_attack_drone` in words: "one way attack drone". */
export const codeWords = (code: string): string => code.replace(/_/g, ' ');

/** Each actor role as a heading. */
export const ROLE_WORDS: Record<ActorRole, string> = { perpetrator: 'Perpetrator', claimant: 'Claimed by', target: 'Target', directed_by: 'Directed by' };

/** What each date precision means for the reader. */
export const DATE_PRECISION_WORDS: Record<Event['date_precision'], string> = {
  day: 'known to the day',
  month: 'known to the month only',
  approximate: 'approximate: the sources bound it without stating the day',
};

/** What each location precision says about the coordinates. */
export const LOCATION_PRECISION_WORDS: Record<Event['location']['precision'], string> = {
  site: 'the site itself',
  city: 'the city',
  approximate: 'near the named place',
  region: 'the region',
  country: 'the centre of the country: the sources name no place',
};

/** The looks of a map marker, most exact first: one for a site or city, one near a place, one for a region or country. */
export const MARKER_KINDS = ['exact', 'approximate', 'coarse'] as const;
/** A look of a map marker. */
export type MarkerKind = (typeof MARKER_KINDS)[number];

/** The marker each location precision gets on the record page's map (the explorer's script, a static asset, keeps the same table as PRECISION_STYLE). */
export const PRECISION_MARKER: Record<Event['location']['precision'], MarkerKind> = { site: 'exact', city: 'exact', approximate: 'approximate', region: 'coarse', country: 'coarse' };

/** What each marker look means, as the maps' legends and captions say it. */
export const MARKER_WORDS: Record<MarkerKind, string> = {
  exact: 'filled: the site or city itself',
  approximate: 'pale: near the named place (approximate)',
  coarse: 'hollow, dashed: only the region or country is known (a centroid, not a place)',
};

const REGION_NAMES = new Intl.DisplayNames(['en'], { type: 'region' });

/** A country's English name from its ISO 3166-1 alpha-2 code, or the code when it has none. */
export function countryName(code: string): string {
  try {
    return REGION_NAMES.of(code) ?? code;
  } catch {
    return code;
  }
}

/**
 * A place as people write it: its name and country ("US Embassy, Baghdad,
 * Iraq"), without the country when the name already says it ("Kuwait", not
 * "Kuwait, Kuwait"; "Kata'ib Hezbollah sites in Iraq", not "…, Iraq").
 */
export function placeLabel(location: { name: string; country: string }): string {
  const country = countryName(location.country);
  const named = new RegExp(`(^|[^\\p{L}])${country.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^\\p{L}])`, 'u').test(location.name);
  return named ? location.name : `${location.name}, ${country}`;
}
