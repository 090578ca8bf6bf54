/**
 * The single definition of strikewire's data: event records, the tallies
 * collection and the source documents they cite. Everything that reads or
 * writes records (seeding, the API, tests) validates with these schemas.
 */
import * as v from 'valibot';
import actorDictionary from '../../data/actors.json';

/** Kinds of event the dataset holds. */
export const EVENT_TYPES = ['attack', 'strike', 'incident', 'deployment'] as const;

/**
 * How exactly `date` is known: `day` as stated or resolved, `approximate`
 * bounded only (the bounds in `date_window`), `month` known to the month
 * (date is the 1st). See `dateInterval` in dates.ts for the days each stands for.
 */
export const DATE_PRECISIONS = ['day', 'approximate', 'month'] as const;

/**
 * How exactly a location's coordinates place the event: `site` (the place
 * itself), `city`, `approximate` (near a named place), `region`, `country`
 * (a country's centroid: the sources name no place).
 */
export const LOCATION_PRECISIONS = ['site', 'city', 'approximate', 'region', 'country'] as const;

/** The precisions a map may plot as a point: `bbox` matches only these unless asked otherwise, and feeds give GeoRSS only for these. */
export const POINT_PRECISIONS: readonly (typeof LOCATION_PRECISIONS)[number][] = ['site', 'city'];

/** Controlled vocabulary of means used, so `weapon=` filters are exact. */
export const WEAPONS = [
  'rocket',
  'ballistic_missile',
  'one_way_attack_drone',
  'mortar',
  'airstrike',
  'crowd_violence',
  'unspecified',
] as const;

/** Who a casualty figure counts. */
export const CASUALTY_GROUPS = [
  'us_military',
  'us_civilian',
  'us_personnel',
  'partner_forces',
  'militants',
  'civilians',
  'unknown',
] as const;

/** What an actor did in an event: carried it out, claimed it, was its target, or directed it (as a source says). */
export const ACTOR_ROLES = ['perpetrator', 'claimant', 'target', 'directed_by'] as const;

/** What sort of actor a dictionary entry is. `unnamed_militias` is how sources speak of militias they do not name one by one ("Iranian-backed Shia militias"). */
export const ACTOR_KINDS = ['state', 'state_forces', 'diplomatic_mission', 'militia', 'militia_coalition', 'unnamed_militias'] as const;

/**
 * How one actor relates to another, as a source says. Only `part_of` carries
 * a record's roles to the larger actor (what Kata'ib Hezbollah did, Iran-backed
 * militias did); the others are documented, never used to attribute a record.
 */
export const ACTOR_RELATIONS = ['part_of', 'claims_under', 'directed_by', 'supported_by', 'linked_to'] as const;

/** Which part of a record a source quote backs. */
export const SUPPORTED_FIELDS = ['date', 'location', 'actors', 'weapons', 'casualties', 'summary'] as const;

/**
 * Largest `killed` or `injured` one casualty figure may give. The deadliest
 * single events in scope count in the hundreds, so this only refuses typing
 * errors and absurd values (`1e308`), and it keeps every sum `/stats` makes
 * an exact integer (100,000 × 10 figures × millions of records < 2^53).
 */
export const MAX_CASUALTY_COUNT = 100_000;

/**
 * Most entries of each array of a record: generous against the curated data
 * (at most 6 actors, 3 casualty figures, 6 sources and 3
 * related records per event) and small enough that a record stays well
 * within what one webhook delivery carries (see MAX_EVENT_JSON_BYTES).
 * `weapons` and a citation's `supports` name each value of their vocabulary
 * at most once in a sensible record, so their caps are the vocabularies' sizes.
 */
export const RECORD_ARRAY_LIMITS = {
  /** Actors named, over all roles: a joint claim or a coalition names a handful in each role. */
  actors: 20,
  /** Means used: each of WEAPONS once. */
  weapons: WEAPONS.length,
  /** Casualty figures: one or two per group (e.g. differing reports) for the most affected groups. */
  casualties: 10,
  /** Citations: an event is rarely reported by more than a handful of documents worth quoting. */
  sources: 10,
  /** Fields one citation backs: each of SUPPORTED_FIELDS once. */
  supports: SUPPORTED_FIELDS.length,
  /** Related records: a campaign of strikes over a few days, or follow-ups. */
  related: 20,
} as const;

/** Longest source document file name. */
export const MAX_DOCUMENT_NAME_LENGTH = 100;

/**
 * Largest record as JSON, in UTF-8 bytes (64 KiB), half the Queues limit of
 * 128 KB per message, so a record with its delivery envelope always fits in
 * one message. With every text field at its maximum length and every array
 * at its RECORD_ARRAY_LIMITS cap, a record of ASCII text is about 32 KB; text
 * of 3-byte characters (Arabic, CJK) or of control characters (which JSON
 * escapes as 6 bytes each) could reach 84 KB or 162 KB, so the schema also
 * refuses any record whose JSON exceeds this bound.
 */
export const MAX_EVENT_JSON_BYTES = 64 * 1024;

const Slug = v.pipe(
  v.string(),
  v.maxLength(120, 'must be at most 120 characters'),
  v.regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, 'must be a lower-case slug (a-z, 0-9, single hyphens)'),
);

/** A calendar date `YYYY-MM-DD` that exists (`format: date` in JSON Schema). */
export const IsoDate = v.pipe(v.string(), v.check(isRealDate, 'must be a real calendar date YYYY-MM-DD'), v.metadata({ format: 'date' }));

const Timestamp = v.pipe(v.string(), v.isoTimestamp('must be an ISO 8601 timestamp'));

/** Text as stored: what readers accept, so records stored before the text rules (or put straight into KV) are still served. */
const Text = (max: number) => v.pipe(v.string(), v.trim(), v.minLength(1, 'must not be empty'), v.maxLength(max));

/** Whether a text field may hold more than one line: multi-line fields keep tab and newline. */
type Lines = 'single' | 'multi';

/** How record text is checked: `Text` for stored records, `cleanText` for records being written. */
export type TextRule = (max: number, lines?: Lines) => v.GenericSchema<string, string>;

/**
 * Text being written: it must hold none of `forbiddenCharacter`'s characters
 * (checked before anything else, so a title made only of them is refused for
 * them, not passed as non-empty), and is stored NFC-normalised.
 */
export const cleanText: TextRule = (max, lines = 'single') =>
  v.pipe(
    v.string(),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const found = forbiddenCharacter(dataset.value, lines === 'multi');
      if (found === null) return dataset.value.normalize('NFC');
      addIssue({ message: `must not contain ${found}${lines === 'multi' ? '' : ', tabs or line breaks'}` });
      return NEVER;
    }),
    v.trim(),
    v.minLength(1, 'must not be empty'),
    v.maxLength(max),
  );

/**
 * The first character written text may not hold, described; null when there
 * is none. Refused: C0 and C1 control characters and DEL (tab and line feed
 * only where `multiline`), lone surrogates, the non-characters U+FFFE and
 * U+FFFF, and the bidirectional embeddings, overrides and isolates
 * (U+202A–U+202E, U+2066–U+2069), which can make text read differently from
 * what it holds.
 */
export function forbiddenCharacter(text: string, multiline: boolean): string | null {
  const match = (multiline ? FORBIDDEN_MULTILINE : FORBIDDEN_SINGLE_LINE).exec(text);
  if (!match) return null;
  const code = match[0].charCodeAt(0);
  const at = `U+${code.toString(16).toUpperCase().padStart(4, '0')} at position ${match.index + 1}`;
  if (code >= 0xd800 && code <= 0xdfff) return `a lone surrogate (${at})`;
  if (code === 0xfffe || code === 0xffff) return `a non-character (${at})`;
  if ((code >= 0x202a && code <= 0x202e) || (code >= 0x2066 && code <= 0x2069)) return `a bidirectional control character (${at})`;
  return `a control character (${at})`;
}

const LONE_SURROGATE = '[\\uD800-\\uDBFF](?![\\uDC00-\\uDFFF])|(?<![\\uD800-\\uDBFF])[\\uDC00-\\uDFFF]';
const FORBIDDEN_SINGLE_LINE = new RegExp(`[\\u0000-\\u001F\\u007F-\\u009F\\uFFFE\\uFFFF\\u202A-\\u202E\\u2066-\\u2069]|${LONE_SURROGATE}`);
const FORBIDDEN_MULTILINE = new RegExp(`[\\u0000-\\u0008\\u000B-\\u001F\\u007F-\\u009F\\uFFFE\\uFFFF\\u202A-\\u202E\\u2066-\\u2069]|${LONE_SURROGATE}`);

const Count = v.nullable(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(MAX_CASUALTY_COUNT, `must be at most ${MAX_CASUALTY_COUNT}`)));

/** An array of `item` with at most `max` entries. */
const List = <Item extends v.GenericSchema>(item: Item, max: number) => v.pipe(v.array(item), v.maxLength(max, `must hold at most ${max} entries`));

/** A place an event happened, with WGS84 coordinates of the named place. */
const locationSchema = (text: TextRule) =>
  v.strictObject({
    name: text(200),
    country: v.pipe(v.string(), v.regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 code')),
    lat: v.pipe(v.number(), v.minValue(-90), v.maxValue(90)),
    lon: v.pipe(v.number(), v.minValue(-180), v.maxValue(180)),
    precision: v.picklist(LOCATION_PRECISIONS),
  });

/** The ids of the actor dictionary (data/actors.json, validated by `ActorDictionarySchema` where it is loaded). */
const KNOWN_ACTOR_IDS: ReadonlySet<string> = new Set(actorDictionary.map((actor) => actor.id));

/** A source document's file name in data/sources/. */
const DocumentName = v.pipe(v.string(), v.maxLength(MAX_DOCUMENT_NAME_LENGTH, `must be at most ${MAX_DOCUMENT_NAME_LENGTH} characters`), v.regex(/^[\w.-]+\.txt$/, 'must be a file name in data/sources/'));

/** A verbatim quote from a source document, without a publisher: what backs an actor's role or a link between actors. */
const quoteSchema = (text: TextRule) => v.strictObject({ document: DocumentName, quote: text(500, 'multi') });

/**
 * One actor of an event: its dictionary id, its role, the source's own
 * wording for display, and optionally the quote that gives it that role.
 * Written records must use ids the dictionary holds (`dictionary`); stored
 * ones are served whatever id they carry.
 */
const actorEntrySchema = (text: TextRule, ids: 'any' | 'dictionary') =>
  v.strictObject({
    id: ids === 'dictionary' ? v.pipe(Slug, v.check((id) => KNOWN_ACTOR_IDS.has(id), 'must be the id of an actor in data/actors.json (GET /actors lists them)')) : Slug,
    role: v.picklist(ACTOR_ROLES, `must be one of ${ACTOR_ROLES.join(', ')}`),
    as_written: text(200),
    source: v.optional(quoteSchema(text)),
  });

/** One link of the actor dictionary: `relation` to actor `to`, with the quotes that say so. */
const ActorLinkSchema = v.strictObject({
  relation: v.picklist(ACTOR_RELATIONS),
  to: Slug,
  sources: v.pipe(v.array(quoteSchema(Text)), v.minLength(1, 'needs at least one source')),
});

/**
 * One entry of the actor dictionary (data/actors.json), as ACLED and UCDP
 * keep them: a stable id, a canonical name, every alias and abbreviation the
 * sources use (each found verbatim in one of them), a kind, and links to
 * other actors, each citing a source.
 */
export const ActorSchema = v.strictObject({
  id: Slug,
  name: Text(200),
  kind: v.picklist(ACTOR_KINDS),
  country: v.pipe(v.string(), v.regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 code')),
  aliases: v.array(Text(200)),
  links: v.array(ActorLinkSchema),
});

/** A validated actor. */
export type Actor = v.InferOutput<typeof ActorSchema>;

/** The whole dictionary: ids unique, every link to an actor it holds. */
/** A place of the gazetteer (data/places.json): the spellings the sources use for it, each found in the document named, and where it is. */
export const PlaceSchema = v.strictObject({
  id: Slug,
  name: Text(200),
  aliases: v.array(v.strictObject({ name: Text(200), document: v.pipe(v.string(), v.regex(/^[\w.-]+\.txt$/, 'must be a file name in data/sources/')) })),
  country: v.pipe(v.string(), v.regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 code')),
  lat: v.pipe(v.number(), v.minValue(-90), v.maxValue(90)),
  lon: v.pipe(v.number(), v.minValue(-180), v.maxValue(180)),
  precision: v.picklist(LOCATION_PRECISIONS),
});

/** A place of the gazetteer. */
export type Place = v.InferOutput<typeof PlaceSchema>;

export const ActorDictionarySchema = v.pipe(
  v.array(ActorSchema),
  v.check((actors) => new Set(actors.map((actor) => actor.id)).size === actors.length, 'actor ids must be unique'),
  v.check((actors) => actors.every((actor) => actor.links.every((link) => actors.some((other) => other.id === link.to))), 'every link must be to an actor of the dictionary'),
);

/** One casualty figure; `null` means the sources give no number. */
const casualtySchema = (text: TextRule) =>
  v.strictObject({
    group: v.picklist(CASUALTY_GROUPS),
    killed: Count,
    injured: Count,
    note: v.optional(text(500, 'multi')),
  });

/** A citation: the document's file name in data/sources/, its publisher and a verbatim quote. */
const sourceCitationSchema = (text: TextRule) =>
  v.strictObject({
    document: DocumentName,
    publisher: text(200),
    quote: text(1000, 'multi'),
    supports: v.optional(List(v.picklist(SUPPORTED_FIELDS), RECORD_ARRAY_LIMITS.supports)),
  });

/** A citation as stored (tallies cite sources too). */
export const SourceCitationSchema = sourceCitationSchema(Text);

/** A record id: a lower-case slug of at most 120 characters. */
export const EventIdSchema = Slug;

/** Size in UTF-8 bytes of `value` as JSON. */
export const jsonBytes = (value: unknown): number => new TextEncoder().encode(JSON.stringify(value)).byteLength;

/** Refuses a record whose JSON is larger than MAX_EVENT_JSON_BYTES. */
const withinJsonBudget = <Shape extends object>() =>
  v.check<Shape, (issue: v.CheckIssue<Shape>) => string>(
    (record) => jsonBytes(record) <= MAX_EVENT_JSON_BYTES,
    (issue) => `the record must be at most ${MAX_EVENT_JSON_BYTES} bytes as JSON (got ${jsonBytes(issue.input)}); shorten its text or cite fewer sources`,
  );

/** The first and last day (inclusive) an `approximate` date lies between, as its `date_note` justifies. */
const DateWindow = v.pipe(
  v.strictObject({ start: IsoDate, end: IsoDate }),
  v.forward(
    v.partialCheck([['start'], ['end']], (window) => window.start <= window.end, (issue) => `must not be before start (${issue.input.start})`),
    ['end'],
  ),
);

/** The date fields `dateWindowRule` checks. */
type DatedFields = {
  date: string;
  date_precision: (typeof DATE_PRECISIONS)[number];
  date_window?: { start: string; end: string } | undefined;
};

/**
 * Why `date_window` does not fit the record's date, or null when it does: it
 * must hold `date`, and be given exactly when `date_precision` is
 * `approximate` (where `windowRequired`: stored records written before
 * windows existed have none).
 */
function dateWindowProblem(record: DatedFields, windowRequired: boolean): string | null {
  if (record.date_precision !== 'approximate') return record.date_window ? 'is only for date_precision approximate (day and month are intervals already)' : null;
  if (!record.date_window) return windowRequired ? 'is required when date_precision is approximate: the first and last day the date note allows' : null;
  const { start, end } = record.date_window;
  // A window that ends before it starts is reported on `date_window.end` alone.
  return start > end || (start <= record.date && record.date <= end) ? null : `must hold date (${record.date})`;
}

/** The `dateWindowProblem` check as a pipe action, reported on `date_window`. */
const dateWindowRule = <Shape extends DatedFields>(windowRequired: boolean) =>
  v.rawCheck<Shape>(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const problem = dateWindowProblem(dataset.value, windowRequired);
    if (problem) addIssue({ message: problem, path: [{ type: 'object', origin: 'value', input: dataset.value , key: 'date_window', value: dataset.value.date_window }] });
  });

/** The fields of an event record, its text checked by `text`, its actor ids by `actorIds`. */
const eventEntries = (text: TextRule, actorIds: 'any' | 'dictionary') => ({
  id: Slug,
  type: v.picklist(EVENT_TYPES),
  title: text(200),
  summary: text(2000, 'multi'),
  date: IsoDate,
  date_precision: v.picklist(DATE_PRECISIONS),
  date_note: v.optional(text(500, 'multi')),
  date_window: v.optional(DateWindow),
  location: locationSchema(text),
  actors: List(actorEntrySchema(text, actorIds), RECORD_ARRAY_LIMITS.actors),
  weapons: List(v.picklist(WEAPONS), RECORD_ARRAY_LIMITS.weapons),
  casualties: List(casualtySchema(text), RECORD_ARRAY_LIMITS.casualties),
  sources: v.pipe(List(sourceCitationSchema(text), RECORD_ARRAY_LIMITS.sources), v.minLength(1, 'needs at least one source')),
  related: List(Slug, RECORD_ARRAY_LIMITS.related),
  revision: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)), 1),
  created_at: Timestamp,
  updated_at: Timestamp,
});

/**
 * One distinct event as stored: an attack, a strike, an embassy incident or a
 * deployment; at most MAX_EVENT_JSON_BYTES as JSON. Its text is not held to
 * the rules of `EventInputSchema`, so records stored before them (or put
 * straight into KV) are still served; every export cleans text on the way out.
 */
export const EventSchema = v.pipe(v.strictObject(eventEntries(Text, 'any')), dateWindowRule(false), withinJsonBudget());

/** A validated event record. */
export type Event = v.InferOutput<typeof EventSchema>;

/** One actor of a record. */
export type EventActor = Event['actors'][number];

/** One of ACTOR_ROLES. */
export type ActorRole = (typeof ACTOR_ROLES)[number];

/** A reported running count ("103 attacks since October 17"), kept apart from events. */
export const TallySchema = v.strictObject({
  id: Slug,
  metric: v.picklist(['attacks_on_us_forces', 'us_troops_present']),
  value: v.pipe(v.number(), v.integer(), v.minValue(0)),
  qualifier: v.picklist(['exact', 'at_least', 'more_than', 'roughly']),
  area: v.array(v.pipe(v.string(), v.regex(/^[A-Z]{2}$/))),
  since: v.nullable(IsoDate),
  since_note: v.optional(Text(300)),
  as_of: IsoDate,
  as_of_precision: v.picklist(DATE_PRECISIONS),
  as_of_note: v.optional(Text(300)),
  reported_by: Text(200),
  sources: v.pipe(v.array(SourceCitationSchema), v.minLength(1)),
});

/** A validated tally. */
export type Tally = v.InferOutput<typeof TallySchema>;

/** What is known about one source document in data/sources/. */
export const SourceDocumentSchema = v.strictObject({
  document: v.pipe(v.string(), v.regex(/^[\w.-]+\.txt$/)),
  publisher: Text(200),
  kind: v.picklist(['official_statement', 'news_report']),
  language: v.string(),
  published: v.nullable(IsoDate),
  published_precision: v.picklist(DATE_PRECISIONS),
  note: Text(1000),
});

/** A validated source document description. */
export type SourceDocument = v.InferOutput<typeof SourceDocumentSchema>;

function isRealDate(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
  const parsed = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(parsed.getTime()) && parsed.toISOString().slice(0, 10) === value;
}

/**
 * An event as submitted for writing: the server keeps `revision`,
 * `created_at` and `updated_at`, so a writer may leave them out. Its text is
 * NFC-normalised and refused when it holds control characters (tab and line
 * feed allowed in summary, notes and quotes), lone surrogates, U+FFFE/U+FFFF
 * or bidirectional controls. An `approximate` date needs its `date_window`. Its actors must be ids of the dictionary.
 */
export const EventInputSchema = v.pipe(
  v.strictObject({
    ...eventEntries(cleanText, 'dictionary'),
    revision: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
    created_at: v.optional(Timestamp),
    updated_at: v.optional(Timestamp),
  }),
  dateWindowRule(true),
  withinJsonBudget(),
);

/** A validated event submitted for writing. */
export type EventInput = v.InferOutput<typeof EventInputSchema>;
