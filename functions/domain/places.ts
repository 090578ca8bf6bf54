/**
 * The gazetteer (data/places.json) at run time: the other spellings the
 * sources use for a record's place ("Irbil", "Arbil Air Base" for Erbil Air
 * Base; "Ain al-Assad" for Al-Asad Air Base), so that a word search finds the
 * record under any of them.
 */
import * as v from 'valibot';
import gazetteer from '../../data/places.json';
import { PlaceSchema, type Place } from './schema.ts';
import { foldText } from './text.ts';

/** Every place of the gazetteer; checked when the Worker loads. */
export const PLACES: readonly Place[] = v.parse(v.array(PlaceSchema), gazetteer);

/** Each place's names, folded, canonical name first. */
const FOLDED_NAMES = PLACES.map((place) => [place.name, ...place.aliases.map((alias) => alias.name)].map(foldText));

/** Whether the folded `text` holds the folded `phrase` as whole words. */
const holds = (text: string, phrase: string): boolean => ` ${text} `.includes(` ${phrase} `);

/** Every name of the gazetteer places a location name mentions (by any of their names), for the search text. */
export function placeNames(locationName: string): string[] {
  const folded = foldText(locationName);
  return FOLDED_NAMES.filter((names) => names.some((name) => holds(folded, name))).flat();
}
