/**
 * The actor dictionary (data/actors.json) at run time: lookup by id, the
 * names each actor answers to, `actor=` matching as whole folded words over
 * ids, canonical names and aliases (following `part_of` links, so a query for
 * a larger actor finds what its members did), and the actors of a record,
 * read also from records stored before the dictionary.
 */
import * as v from 'valibot';
import dictionary from '../../data/actors.json';
import { ACTOR_ROLES, ActorDictionarySchema, type Actor, type ActorRole, type Event, type EventActor } from './schema.ts';
import { foldText } from './text.ts';

/** Every actor of the dictionary, in its order; checked when the Worker loads. */
export const ACTORS: readonly Actor[] = v.parse(ActorDictionarySchema, dictionary);

const BY_ID = new Map(ACTORS.map((actor) => [actor.id, actor]));

/** The dictionary entry with `id`, if any. */
export const actorById = (id: string): Actor | undefined => BY_ID.get(id);

/** The bundled dictionary as served, for validators: changes whenever data/actors.json does. */
export const ACTORS_JSON = JSON.stringify(ACTORS);

/** Every name an actor answers to: its id (hyphens as spaces), canonical name and aliases. */
export const actorNames = (actor: Actor): string[] => [actor.id.replace(/-/g, ' '), actor.name, ...actor.aliases];

/** Folded names of each actor, for matching. */
const FOLDED_NAMES = new Map(ACTORS.map((actor) => [actor.id, actorNames(actor).map(foldText)]));

/** The actors each actor is `part_of`, directly or through others, itself excluded. */
const CONTAINERS = new Map(ACTORS.map((actor) => [actor.id, containersOf(actor.id)]));

function containersOf(id: string): string[] {
  const found = new Set<string>();
  const queue = [id];
  while (queue.length) {
    for (const link of BY_ID.get(queue.shift()!)?.links ?? []) {
      if (link.relation === 'part_of' && link.to !== id && !found.has(link.to)) found.add(link.to), queue.push(link.to);
    }
  }
  return [...found];
}

/** True when folded `name` holds the folded `phrase` as whole words, in order. */
const holdsPhrase = (name: string, phrase: string): boolean => phrase !== '' && ` ${name} `.includes(` ${phrase} `);

/**
 * What an `actor=` value selects: the ids of the actors one of whose names
 * holds it as whole folded words (`KH` is Kata'ib Hezbollah; `us` is every
 * actor with the word "US"; `IS` is no one), with every actor that is part of
 * one of them; and the folded phrase itself, for actors a record names that
 * the dictionary does not hold.
 */
export interface ActorSelection {
  ids: ReadonlySet<string>;
  phrase: string;
}

/** The `ActorSelection` of an `actor=` value. */
export function selectActors(query: string): ActorSelection {
  const phrase = foldText(query);
  const named = ACTORS.filter((actor) => FOLDED_NAMES.get(actor.id)!.some((name) => holdsPhrase(name, phrase))).map((actor) => actor.id);
  const ids = new Set(named);
  for (const actor of ACTORS) if (CONTAINERS.get(actor.id)!.some((container) => named.includes(container))) ids.add(actor.id);
  return { ids, phrase };
}

/** True when a record's actor `id` (written as `asWritten`) is one `selection` selects: by dictionary id, or, for an id the dictionary lacks, by its id or wording. */
export function actorSelected(selection: ActorSelection, id: string, asWritten: string): boolean {
  if (BY_ID.has(id)) return selection.ids.has(id);
  return holdsPhrase(foldText(id), selection.phrase) || holdsPhrase(foldText(asWritten), selection.phrase);
}

/** A record's actors in role form before the dictionary: names per role. */
interface LegacyActors {
  perpetrator?: string[];
  target?: string[];
  claimed_by?: string[];
}

/**
 * The actors of a stored record. Records stored before the dictionary kept
 * names per role (`{ perpetrator, target, claimed_by }`): they are read as
 * entries whose id is the dictionary actor of that name when there is one,
 * else empty, so they are still served and exported.
 */
export function recordActors(event: Pick<Event, 'actors'>): EventActor[] {
  if (Array.isArray(event.actors)) return event.actors;
  const legacy = event.actors as LegacyActors;
  const roles: Array<[ActorRole, string[] | undefined]> = [['perpetrator', legacy.perpetrator], ['target', legacy.target], ['claimant', legacy.claimed_by]];
  return roles.flatMap(([role, names]) => (names ?? []).map((name) => ({ id: idOfName(name), role, as_written: name })));
}

/** The id of the dictionary actor called `name` (canonical name or alias, folded), else ''. */
function idOfName(name: string): string {
  const folded = foldText(name);
  return ACTORS.find((actor) => FOLDED_NAMES.get(actor.id)!.includes(folded))?.id ?? '';
}

/** The display name of a record's actor: the dictionary's canonical name, else the record's wording. */
export const actorDisplayName = (actor: Pick<EventActor, 'id' | 'as_written'>): string => BY_ID.get(actor.id)?.name ?? actor.as_written;

/** Counts of one actor per role. */
export type RoleCounts = Record<ActorRole, number>;

/** A zero count for every role. */
export const emptyRoleCounts = (): RoleCounts => Object.fromEntries(ACTOR_ROLES.map((role) => [role, 0])) as RoleCounts;
