/**
 * The OpenAPI 3.1 description of the API (`GET /openapi.json`) and its
 * interactive reference (`GET /docs`, Scalar). Parameters, bodies and
 * records are generated from the valibot schemas the routes validate with
 * (domain/json-schema.ts), descriptions of the read endpoints from what
 * `GET /` says; tests/openapi.test.ts fails when a route of the app is
 * missing here (or described here but gone) and when a documented parameter
 * is not what its route accepts.
 *
 * The reference page loads Scalar's standalone bundle from this origin
 * (`SCALAR_BUNDLE_PATH`, a Workers Static Asset), never from a CDN, so it
 * works with no internet.
 */
import { Scalar } from '@scalar/hono-api-reference';
import { Hono } from 'hono';
import { etag } from 'hono/etag';
import * as v from 'valibot';
import { ACTOR_ROLES, ActorSchema, EventIdSchema, EventInputSchema, EventSchema, IsoDate, TallySchema } from '../domain/schema.ts';
import { CHANGE_KINDS, ChangesQuerySchema, MAX_REASON_LENGTH, RetractionBodySchema } from '../domain/change-feed.ts';
import { CSV_MEDIA_TYPE } from '../domain/csv.ts';
import { FEED_FORMAT_NAMES, FEED_FORMATS, FEED_MEDIA_TYPES, FEED_PATHS, JSON_FEED_VERSION } from '../domain/feed.ts';
import { GEOJSON_MEDIA_TYPE } from '../domain/geojson.ts';
import { COMPONENT_SCHEMAS_PATH, jsonSchemaConverter, objectEntries, type AnySchema } from '../domain/json-schema.ts';
import { EventQuerySchema, FeedQuerySchema, FilterQuerySchema, StatsQuerySchema, TallyQuerySchema } from '../domain/query.ts';
import { MAX_REPLAY_WINDOW_DAYS, MAX_REPLAYS_UNDER_WAY, replayRequestSchema } from '../domain/replay.ts';
import { DEFAULT_ROTATION_GRACE_SECONDS, MAX_ROTATION_GRACE_SECONDS, RotateSecretSchema } from '../domain/subscriber-credentials.ts';
import { SUBSCRIBABLE_EVENT_TYPES, SubscriptionInputSchema } from '../domain/subscription.ts';
import { WEBHOOK_EVENT_TYPES } from '../domain/webhook-signing.ts';
import { MAX_SECRET_BYTES, WEBSUB_LIMITS, WEBSUB_MODES, WEBSUB_NOTIFICATION } from '../domain/websub.ts';
import type { Env } from '../env.ts';
import { ErrorBodySchema } from './errors.ts';
import { batchSchema, MAX_INGEST_BYTES, MAX_INGEST_RECORDS } from './ingest.ts';
import { CHANGE_FILTERS, FILTERS, PAGING, SERVICE } from './meta.ts';
import { EnableQuery, IdParam, LogQuery } from './subscriptions.ts';
import { WebSubIdParam } from './admin.ts';

/** Where the reference page loads Scalar's standalone bundle from: a file of public/ (Workers Static Assets). */
export const SCALAR_BUNDLE_PATH = '/vendor/scalar-api-reference.js';

/** A JSON object of the document. */
type Json = Record<string, unknown>;

/** A record as the API serves it (`GET /events/:id`, pages, webhook `data`): the stored record with its date interval. */
const ServedEventSchema = v.strictObject({ ...objectEntries(EventSchema), date_start: IsoDate, date_end: IsoDate });

/** An actor as `/actors` serves it: its dictionary entry and how many records name it in each role. */
const ServedActorSchema = v.strictObject({
  ...ActorSchema.entries,
  counts: v.strictObject(Object.fromEntries(ACTOR_ROLES.map((role) => [role, v.pipe(v.number(), v.integer(), v.minValue(0))]))),
});

const converter = jsonSchemaConverter({
  Error: ErrorBodySchema,
  Event: ServedEventSchema,
  EventInput: EventInputSchema,
  Actor: ServedActorSchema,
  Tally: TallySchema,
  SubscriptionInput: SubscriptionInputSchema,
  RetractionInput: RetractionBodySchema,
});
const schemaOf = converter.schemaOf;
const ref = (name: string) => ({ $ref: `${COMPONENT_SCHEMAS_PATH}${name}` });

/** What `GET /` says of an endpoint (`GET /path`). */
function described(route: string): string {
  const endpoint = (SERVICE.endpoints as Record<string, { description: string }>)[route];
  if (!endpoint) throw new Error(`GET / does not describe ${route}`);
  return endpoint.description;
}

/** Descriptions of the `/tallies` parameters, from `GET /`. */
const TALLY_PARAMETERS = SERVICE.endpoints['GET /tallies'].parameters;

/** Descriptions of query parameters, by name, from `GET /`. */
const PARAMETER_DESCRIPTIONS: Record<string, string> = { ...FILTERS, ...CHANGE_FILTERS, ...PAGING };

/**
 * The parameters of an object schema, one each, in `where` (`query` or
 * `path`). A list parameter is an array sent comma-separated (`style: form`,
 * `explode: false`); the API also takes it repeated.
 */
function parametersOf(schema: AnySchema, where: 'query' | 'path', descriptions: Record<string, string> = PARAMETER_DESCRIPTIONS): Json[] {
  return Object.entries(objectEntries(schema)).map(([name, entry]) => {
    const parameter = schemaOf(entry);
    const list = parameter.type === 'array';
    return {
      name,
      in: where,
      required: where === 'path' || entry.type !== 'optional',
      ...(descriptions[name] ? { description: list ? `${descriptions[name]} (or the parameter repeated)` : descriptions[name] } : {}),
      schema: parameter,
      ...(list ? { style: 'form', explode: false } : {}),
    };
  });
}

/** The subscription `filters` object: the `/stats` filters, each list also as one comma-separated string. */
function filtersBodySchema(): Json {
  const properties = Object.fromEntries(
    parametersOf(FilterQuerySchema, 'query').map((parameter) => {
      const schema = parameter.schema as Json;
      return [parameter.name, schema.type === 'array' ? { anyOf: [{ type: 'string', description: 'comma-separated' }, schema] } : schema];
    }),
  );
  return { type: 'object', properties, additionalProperties: false, description: 'The /events filter parameters, validated exactly as on /events' };
}

/** Building blocks of responses. */
const jsonContent = (schema: Json) => ({ 'application/json': { schema } });
const ok = (description: string, schema: Json, headers?: Json): Json => ({ description, content: jsonContent(schema), ...(headers ? { headers } : {}) });
/** A JSON response that browsers (clients preferring text/html) get as an HTML page instead. */
const withPage = (response: Json, page: string): Json => ({ ...response, content: { ...(response.content as Json), 'text/html': { schema: { type: 'string', description: page } } } });
const listOf = (items: Json, extra: Json = {}): Json => ({ type: 'object', properties: { data: { type: 'array', items }, ...extra }, required: ['data', ...Object.keys(extra)] });
const response = (name: string) => ({ $ref: `#/components/responses/${name}` });

/** Responses every read of the published index may give besides its 200. */
const READ_RESPONSES = { '304': response('NotModified'), '503': response('IndexUnavailable'), '500': response('InternalError') };
/** Responses of every admin route besides its own. */
const ADMIN_RESPONSES = { '401': response('Unauthorized'), '503': response('AdminDisabled'), '500': response('InternalError') };
/** Responses of a JSON body. */
const BODY_RESPONSES = { '400': response('InvalidBody'), '413': response('PayloadTooLarge'), '415': response('UnsupportedMediaType') };

/** A subscription as the API answers it (never with its secret but on creation). */
const TOMBSTONE: Json = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    revision: { type: 'integer', description: 'the retraction\'s revision: one above the last version\'s' },
    retracted_at: { type: 'string', format: 'date-time' },
    reason: { type: ['string', 'null'] },
  },
  required: ['id', 'revision', 'retracted_at', 'reason'],
};

/** A subscription as the API answers it. */
const SUBSCRIPTION: Json = {
  type: 'object',
  properties: {
    id: { type: 'string', pattern: '^sub_[0-9a-f]{32}$' },
    url: { type: 'string', format: 'uri' },
    filters: { type: 'object', description: 'the filters as validated (lists as arrays)' },
    event_types: { type: 'array', items: { type: 'string', enum: [...SUBSCRIBABLE_EVENT_TYPES] } },
    description: { type: ['string', 'null'] },
    status: { type: 'string', enum: ['active', 'disabled'] },
    health: {
      type: 'object',
      description: 'consecutive_failures, failing_since, last_failure, last_success_at, disabled ({ at, reason } or null)',
    },
    previous_secret_expires_at: { type: ['string', 'null'], format: 'date-time', description: 'until when deliveries are also signed with the secret the last rotation replaced; null when they are not' },
    created_at: { type: 'string', format: 'date-time' },
    updated_at: { type: 'string', format: 'date-time' },
  },
  required: ['id', 'url', 'filters', 'event_types', 'description', 'status', 'health', 'previous_secret_expires_at', 'created_at', 'updated_at'],
};

/** Descriptions of the `/changes` parameters, from `GET /`. */
const CHANGES_PARAMETERS = SERVICE.endpoints['GET /changes'].parameters;

/** Who may call the routes of one subscription: the admin, or that subscription's scoped token. */
const SUBSCRIBER_SECURITY = [{ adminToken: [] }, { subscriptionToken: [] }];

/** An operation as described: `summary`, `tags` and the rest of an OpenAPI operation object. */
type Operation = Json & { summary: string; tags: [string] };

/** Every route of the app, as `METHOD /path` with OpenAPI path templates (built when the document is: it converts schemas). */
function operations(): Record<string, Operation> {
  const subscriptionPath = parametersOf(IdParam, 'path', { id: 'a subscription id (sub_ and 32 hex digits)' });
  const recordPath = parametersOf(v.object({ id: EventIdSchema }), 'path', { id: 'a record id' });
  const actorPath = parametersOf(v.object({ id: EventIdSchema }), 'path', { id: 'an actor id of the dictionary' });
  return {
    'GET /': {
      tags: ['meta'],
      summary: 'Service description',
      description: `${SERVICE.description} JSON by default; browsers (Accept: text/html) get the explorer: a page announcing the feeds whose script shows the records matching a filter on a map, by month, counted and listed, using /events and /stats. The explorer reads the /events filter parameters from its URL (in the browser; the server only fills the form with them, so they are not validated here).`,
      responses: {
        '200': { description: 'The endpoints and their parameters, or the explorer page', content: { ...jsonContent({ type: 'object' }), 'text/html': { schema: { type: 'string' } } } },
      },
    },
    'GET /healthz': {
      tags: ['meta'],
      summary: 'Liveness and dataset revision',
      description: described('GET /healthz'),
      responses: {
        '200': ok('Healthy', { type: 'object', properties: { status: { const: 'ok' }, events: { type: 'integer' }, revision: { type: 'integer' }, updated_at: { type: ['string', 'null'] } }, required: ['status', 'events', 'revision', 'updated_at'] }),
        '500': response('InternalError'),
      },
    },
    'GET /openapi.json': { tags: ['meta'], summary: 'This OpenAPI description', description: described('GET /openapi.json'), responses: { '200': ok('OpenAPI 3.1', { type: 'object' }) } },
    'GET /docs': {
      tags: ['meta'],
      summary: 'Interactive API reference',
      description: `${described('GET /docs')}: Scalar, its script loaded from ${SCALAR_BUNDLE_PATH}.`,
      responses: { '200': { description: 'HTML page', content: { 'text/html': { schema: { type: 'string' } } } } },
    },
    'GET /events': {
      tags: ['events'],
      summary: 'Events, newest first',
      description: described('GET /events'),
      parameters: parametersOf(EventQuerySchema, 'query'),
      responses: { '200': withPage(ok('A page of events', listOf(ref('Event'), { next_cursor: { type: ['string', 'null'] } })), 'the list with a filter form'), '400': response('InvalidParameter'), ...READ_RESPONSES },
    },
    'GET /events/{id}': {
      tags: ['events'],
      summary: 'One event',
      description: described('GET /events/{id}'),
      parameters: recordPath,
      responses: { '200': withPage(ok('The record', ref('Event')), 'the record\'s page'), '400': response('InvalidParameter'), '404': response('NotFound'), '410': response('Retracted'), ...READ_RESPONSES },
    },
    'GET /events/{id}.json': {
      tags: ['events'],
      summary: 'One event as JSON',
      description: described('GET /events/{id}.json'),
      parameters: recordPath,
      responses: { '200': ok('The record', ref('Event')), '400': response('InvalidParameter'), '404': response('NotFound'), '410': response('Retracted'), ...READ_RESPONSES },
    },
    'GET /sources': {
      tags: ['sources'],
      summary: 'The source documents',
      description: described('GET /sources'),
      responses: { '200': withPage(ok('Every document with its publisher and date', listOf({ type: 'object', properties: { document: { type: 'string' } }, required: ['document'] })), 'the list of documents'), '400': response('InvalidParameter'), ...READ_RESPONSES },
    },
    'GET /sources/{name}': {
      tags: ['sources'],
      summary: 'One source document',
      description: described('GET /sources/{name}'),
      parameters: [{ name: 'name', in: 'path', required: true, description: 'the document file name, as records cite it', schema: { type: 'string' } }],
      responses: {
        '200': { description: 'The document as stored, or its page for browsers', content: { 'text/plain': { schema: { type: 'string' } }, 'text/html': { schema: { type: 'string' } } } },
        '404': response('NotFound'),
        ...READ_RESPONSES,
      },
    },
    'DELETE /events/{id}': {
      tags: ['writes'],
      summary: 'Retract a record',
      description: `Optional JSON body { "reason": text of at most ${MAX_REASON_LENGTH} characters, one line }. The record leaves /events, the feeds, the exports and /stats once published; GET /events/{id} answers 410 with the tombstone; /changes carries it; subscribers whose filters matched it get one event.deleted. Retracting again answers the same tombstone and alerts nobody; POST /events with the id restores it as an update with the next revision.`,
      security: [{ adminToken: [] }],
      parameters: recordPath,
      requestBody: { required: false, content: jsonContent(ref('RetractionInput')) },
      responses: { '200': ok('Retracted (now or before): the tombstone', ref('Tombstone')), '404': response('NotFound'), ...BODY_RESPONSES, ...ADMIN_RESPONSES },
    },
    'GET /changes': {
      tags: ['changes'],
      summary: 'Every create, update and retraction in commit order',
      description: described('GET /changes'),
      parameters: parametersOf(ChangesQuerySchema, 'query', CHANGES_PARAMETERS),
      responses: {
        '200': ok('Changes after since, oldest first; an empty data with next equal to since when up to date', {
          type: 'object',
          properties: { data: { type: 'array', items: ref('Change') }, next: { type: ['string', 'null'], description: 'the cursor to resume from (null only before anything was published)' } },
          required: ['data', 'next'],
        }),
        '400': response('InvalidParameter'),
        '410': errorResponse('The cursor is from another storage epoch (code cursor_expired, field since): resync from /events, then follow /changes without since'),
        '500': response('InternalError'),
      },
    },
    'POST /events': {
      tags: ['writes'],
      summary: 'Create or update records',
      description: `One record or an array of at most MAX_RECORDS_PER_POST (1–${MAX_INGEST_RECORDS}, default ${MAX_INGEST_RECORDS}; 503 misconfigured for any other setting), body at most ${MAX_INGEST_BYTES} bytes. Idempotent upsert by id; revision, created_at and updated_at are the server's. 201 when anything was created, else 200.`,
      security: [{ adminToken: [] }],
      requestBody: { required: true, content: jsonContent({ oneOf: [ref('EventInput'), schemaOf(batchSchema(MAX_INGEST_RECORDS))] }) },
      responses: {
        '200': ok('Nothing created: each record updated or unchanged', ref('WriteResults')),
        '201': ok('At least one record created', ref('WriteResults')),
        ...BODY_RESPONSES,
        ...ADMIN_RESPONSES,
      },
    },
    ...Object.fromEntries(
      FEED_FORMATS.map((format) => [
        `GET ${FEED_PATHS[format]}`,
        {
          tags: ['feeds'],
          summary: `${FEED_FORMAT_NAMES[format]} feed`,
          description: described(`GET ${FEED_PATHS[format]}`),
          parameters: parametersOf(FeedQuerySchema, 'query'),
          responses: { '200': { description: FEED_FORMAT_NAMES[format], content: { [FEED_MEDIA_TYPES[format]]: { schema: { type: 'string' } } } }, '400': response('InvalidParameter'), ...READ_RESPONSES },
        },
      ]),
    ),
    ...Object.fromEntries(
      [
        ['/events.geojson', GEOJSON_MEDIA_TYPE, 'GeoJSON FeatureCollection'],
        ['/events.csv', CSV_MEDIA_TYPE.split(';')[0]!, 'CSV with a header row'],
      ].map(([path, mediaType, what]) => [
        `GET ${path}`,
        {
          tags: ['exports'],
          summary: `A page of events as ${what}`,
          description: described(`GET ${path}`),
          parameters: parametersOf(EventQuerySchema, 'query'),
          responses: {
            '200': { description: what, headers: { Link: { description: 'the next page: <…>; rel="next"', schema: { type: 'string' } } }, content: { [mediaType!]: { schema: { type: 'string' } } } },
            '400': response('InvalidParameter'),
            ...READ_RESPONSES,
          },
        },
      ]),
    ),
    'GET /stats': {
      tags: ['stats'],
      summary: 'Counts by month, type, country and actor',
      description: described('GET /stats'),
      parameters: parametersOf(StatsQuerySchema, 'query'),
      responses: {
        '200': ok('Stats over every matching record; with q, bbox or cursor, over the records of the index chunks scanned, partial (with next_cursor) when more remain', {
          type: 'object',
          properties: { data: { type: 'object' }, partial: { type: 'boolean' }, next_cursor: { type: ['string', 'null'] } },
          required: ['data'],
        }), '400': response('InvalidParameter'), ...READ_RESPONSES },
    },
    'GET /tallies': {
      tags: ['tallies'],
      summary: 'Reported running tallies',
      description: described('GET /tallies'),
      parameters: parametersOf(TallyQuerySchema, 'query', TALLY_PARAMETERS),
      responses: { '200': ok('Tallies, newest first', listOf(ref('Tally'))), '400': response('InvalidParameter'), ...READ_RESPONSES },
    },
    'GET /actors': {
      tags: ['actors'],
      summary: 'The actor dictionary',
      description: `${described('GET /actors')}. Takes no parameters.`,
      responses: { '200': ok('Every actor with its counts', listOf(ref('Actor'))), '400': response('InvalidParameter'), ...READ_RESPONSES },
    },
    'GET /actors/{id}': {
      tags: ['actors'],
      summary: 'One actor',
      description: described('GET /actors/{id}'),
      parameters: actorPath,
      responses: { '200': ok('The actor with its counts', ref('Actor')), '400': response('InvalidParameter'), '404': response('NotFound'), ...READ_RESPONSES },
    },
    'POST /subscriptions': {
      tags: ['webhooks'],
      summary: 'Subscribe a webhook endpoint',
      description: 'The answer carries the whsec_ secret, shown this once. filters default to none (every record), event_types to both.',
      security: [{ adminToken: [] }],
      requestBody: { required: true, content: jsonContent(ref('SubscriptionInput')) },
      responses: {
        '201': ok(
          'Created',
          { allOf: [ref('Subscription'), { type: 'object', properties: { secret: { type: 'string', pattern: '^whsec_' }, token: { type: 'string', pattern: '^swt_', description: 'the scoped token that manages this subscription only' } }, required: ['secret', 'token'] }] },
          { Location: { schema: { type: 'string' } } },
        ),
        ...BODY_RESPONSES,
        ...ADMIN_RESPONSES,
      },
    },
    'GET /subscriptions': { tags: ['webhooks'], summary: 'Every subscription', security: [{ adminToken: [] }], responses: { '200': ok('Subscriptions, never their secrets', listOf(ref('Subscription'))), ...ADMIN_RESPONSES } },
    'GET /subscriptions/{id}': {
      tags: ['webhooks'],
      summary: 'One subscription',
      security: SUBSCRIBER_SECURITY,
      parameters: subscriptionPath,
      responses: { '200': ok('The subscription', ref('Subscription')), '400': response('InvalidParameter'), '404': response('NotFound'), ...ADMIN_RESPONSES },
    },
    'DELETE /subscriptions/{id}': {
      tags: ['webhooks'],
      summary: 'Delete a subscription',
      description: 'Messages queued for it are dropped.',
      security: SUBSCRIBER_SECURITY,
      parameters: subscriptionPath,
      responses: { '204': { description: 'Deleted' }, '400': response('InvalidParameter'), '404': response('NotFound'), ...ADMIN_RESPONSES },
    },
    'POST /subscriptions/{id}/test': {
      tags: ['webhooks'],
      summary: 'Queue a signed ping',
      security: SUBSCRIBER_SECURITY,
      parameters: subscriptionPath,
      responses: {
        '202': ok('Queued', { type: 'object', properties: { msg_id: { type: 'string' }, status: { const: 'queued' } }, required: ['msg_id', 'status'] }),
        '400': response('InvalidParameter'),
        '404': response('NotFound'),
        ...ADMIN_RESPONSES,
      },
    },
    'POST /subscriptions/{id}/enable': {
      tags: ['webhooks'],
      summary: 'Re-enable an endpoint',
      description: 'With a clean health record; replay=true also sends the alerts held while it was disabled (the answer says how many as replayed).',
      security: SUBSCRIBER_SECURITY,
      parameters: [...subscriptionPath, ...parametersOf(EnableQuery, 'query', { replay: 'true: also send the alerts held while the subscription was disabled' })],
      responses: {
        '200': ok('Enabled', { allOf: [ref('Subscription'), { type: 'object', properties: { replayed: { type: 'integer' } } }] }),
        '400': response('InvalidParameter'),
        '404': response('NotFound'),
        ...ADMIN_RESPONSES,
      },
    },
    'GET /subscriptions/{id}/deliveries': {
      tags: ['webhooks'],
      summary: 'The delivery log, newest first',
      security: SUBSCRIBER_SECURITY,
      parameters: [...subscriptionPath, ...parametersOf(LogQuery, 'query', { limit: 'attempts to list, newest first' })],
      responses: {
        '200': ok(
          'Attempts',
          listOf({
            type: 'object',
            properties: {
              at: { type: 'string', format: 'date-time' },
              status: { type: ['integer', 'null'] },
              latency_ms: { type: ['integer', 'null'] },
              outcome: { enum: ['delivered', 'retrying', 'failed', 'skipped', 'dead_lettered', 'redelivered'] },
              error: { type: ['string', 'null'] },
              msg_id: { type: 'string' },
              attempt: { type: 'integer' },
              replay_id: { type: ['string', 'null'], description: 'the replay that sent the message again (POST /subscriptions/{id}/replay); null for its first sending' },
            },
          }),
        ),
        '400': response('InvalidParameter'),
        '404': response('NotFound'),
        ...ADMIN_RESPONSES,
      },
    },
    'GET /subscriptions/{id}/dead-letters': {
      tags: ['webhooks'],
      summary: 'Messages given up on',
      security: SUBSCRIBER_SECURITY,
      parameters: subscriptionPath,
      responses: {
        '200': ok('Dead letters', listOf({ type: 'object', properties: { msg_id: { type: 'string' }, type: { type: 'string' }, record_id: { type: ['string', 'null'] }, reason: { type: 'string' }, attempts: { type: 'integer' }, at: { type: 'string' } } })),
        '400': response('InvalidParameter'),
        '404': response('NotFound'),
        ...ADMIN_RESPONSES,
      },
    },
    'POST /subscriptions/{id}/redeliver': {
      tags: ['webhooks'],
      summary: 'Queue the dead letters again',
      description: 'Each keeps its original webhook-id.',
      security: SUBSCRIBER_SECURITY,
      parameters: subscriptionPath,
      responses: { '202': ok('Queued', { type: 'object', properties: { queued: { type: 'integer' } }, required: ['queued'] }), '400': response('InvalidParameter'), '404': response('NotFound'), ...ADMIN_RESPONSES },
    },
    'POST /subscriptions/{id}/rotate-secret': {
      tags: ['webhooks'],
      summary: 'Rotate the signing secret',
      description: `Returns the new whsec_ secret, shown this once. For grace_seconds (default ${DEFAULT_ROTATION_GRACE_SECONDS}, at most ${MAX_ROTATION_GRACE_SECONDS}; 0 ends the old secret at once) deliveries carry a signature from each secret, space-separated in webhook-signature, so a receiver verifying with either accepts them. The body is optional.`,
      security: SUBSCRIBER_SECURITY,
      parameters: subscriptionPath,
      requestBody: { required: false, content: jsonContent({ oneOf: [schemaOf(RotateSecretSchema)] }) },
      responses: {
        '200': ok('Rotated', { allOf: [ref('Subscription'), { type: 'object', properties: { secret: { type: 'string', pattern: '^whsec_' } }, required: ['secret'] }] }),
        ...BODY_RESPONSES,
        '404': response('NotFound'),
        ...ADMIN_RESPONSES,
      },
    },
    'POST /subscriptions/{id}/replay': {
      tags: ['webhooks'],
      summary: 'Replay the alerts of a window of time',
      description: `Re-sends the alerts this subscription would have received for the changes committed in [since, until) (RFC 3339; until defaults to now, at most ${MAX_REPLAY_WINDOW_DAYS} days after since), of event_types (default: every type it takes), each with its original webhook-id and payload (a retraction's event.deleted, and earlier versions of a retracted record as they were). Queued through the outbox in slices; the answer says how many changes of those types the window holds, at most that many alerts. Each delivery of the replay names its replay_id in the delivery log. At most ${MAX_REPLAYS_UNDER_WAY} replays under way per subscription (409 beyond), none for a disabled one (409).`,
      security: SUBSCRIBER_SECURITY,
      parameters: subscriptionPath,
      requestBody: { required: true, content: jsonContent({ ...schemaOf(replayRequestSchema(new Date(0))) }) },
      responses: {
        '202': ok('Queued', {
          type: 'object',
          properties: { ...REPLAY_PROPERTIES, status: { const: 'queued' } },
          required: ['replay_id', 'subscription_id', 'since', 'until', 'event_types', 'changes_in_window', 'status'],
        }),
        ...BODY_RESPONSES,
        '404': response('NotFound'),
        '409': errorResponse('The subscription is disabled (code subscription_disabled), or has too many replays under way (code replays_under_way); field id'),
        ...ADMIN_RESPONSES,
      },
    },
    'GET /subscriptions/{id}/replays': {
      tags: ['webhooks'],
      summary: 'The replays of a subscription, newest first',
      description: 'Each replay with its window, event types, status (queued while its window is still being gone through, then finished), alerts_queued (alerts put in the outbox so far: those of the window the filters match) and when it was made and finished. Its deliveries name its replay_id in the delivery log.',
      security: SUBSCRIBER_SECURITY,
      parameters: [...subscriptionPath, ...parametersOf(LogQuery, 'query', { limit: 'replays to list, newest first' })],
      responses: {
        '200': ok(
          'Replays',
          listOf({
            type: 'object',
            properties: {
              ...REPLAY_PROPERTIES,
              status: { enum: ['queued', 'finished'] },
              alerts_queued: { type: 'integer' },
              created_at: { type: 'string', format: 'date-time' },
              finished_at: { type: ['string', 'null'], format: 'date-time' },
            },
            required: ['replay_id', 'subscription_id', 'since', 'until', 'event_types', 'changes_in_window', 'status', 'alerts_queued', 'created_at', 'finished_at'],
          }),
        ),
        '400': response('InvalidParameter'),
        '404': response('NotFound'),
        ...ADMIN_RESPONSES,
      },
    },
    'POST /subscriptions/{id}/rotate-token': {
      tags: ['webhooks'],
      summary: 'Replace the scoped token',
      description: 'Returns a new swt_ token, shown this once; the old one stops working at once.',
      security: SUBSCRIBER_SECURITY,
      parameters: subscriptionPath,
      responses: {
        '200': ok('The new token', { type: 'object', properties: { id: { type: 'string' }, token: { type: 'string', pattern: '^swt_' } }, required: ['id', 'token'] }),
        '400': response('InvalidParameter'),
        '404': response('NotFound'),
        ...ADMIN_RESPONSES,
      },
    },
    'POST /websub': {
      tags: ['websub'],
      summary: 'Subscribe to or unsubscribe from a feed (W3C WebSub hub)',
      description: `The hub every feed names (rel="hub"). Form fields as the WebSub spec names them: hub.mode (subscribe or unsubscribe), hub.topic (a feed URL of this origin with its filters, validated as the feed validates them), hub.callback (refused by the webhook target rules), hub.lease_seconds (clamped to ${WEBSUB_LIMITS.minLeaseSeconds}..${WEBSUB_LIMITS.maxLeaseSeconds}, default ${WEBSUB_LIMITS.defaultLeaseSeconds}) and hub.secret (under ${MAX_SECRET_BYTES} bytes). Answers 202, then GETs the callback with hub.mode, hub.topic, hub.challenge and hub.lease_seconds; only a 2xx echoing the challenge makes the change. Each later write that changes records the topic's filters match POSTs the topic's new feed body to the callback, with Link rel="hub" and rel="self" and, with a secret, X-Hub-Signature: sha256=<hex HMAC-SHA256 of the body>. At most ${WEBSUB_LIMITS.perCallbackHost} subscriptions per callback host, ${WEBSUB_LIMITS.total} in all, ${WEBSUB_LIMITS.requestsPerWindow} requests per client IP per ${WEBSUB_LIMITS.windowSeconds} s.`,
      requestBody: {
        required: true,
        content: {
          'application/x-www-form-urlencoded': {
            schema: {
              type: 'object',
              properties: {
                'hub.mode': { type: 'string', enum: [...WEBSUB_MODES] },
                'hub.topic': { type: 'string', format: 'uri' },
                'hub.callback': { type: 'string', format: 'uri' },
                'hub.lease_seconds': { type: 'integer', minimum: 0 },
                'hub.secret': { type: 'string', maxLength: MAX_SECRET_BYTES - 1 },
              },
              required: ['hub.mode', 'hub.topic', 'hub.callback'],
            },
          },
        },
      },
      responses: {
        '202': ok('Accepted; the intent is verified with the callback next', {
          type: 'object',
          properties: { id: { type: 'string', pattern: '^ws_[0-9a-f]{24}$' }, mode: { type: 'string', enum: [...WEBSUB_MODES] }, topic: { type: 'string' }, callback: { type: 'string' }, lease_seconds: { type: ['integer', 'null'] }, status: { type: 'string', enum: ['verifying'] } },
          required: ['id', 'mode', 'topic', 'callback', 'lease_seconds', 'status'],
        }),
        '400': { description: 'A hub.* field is invalid (named in fields)', content: jsonContent(ref('Error')) },
        '403': { description: 'The callback host, or the hub, holds the most subscriptions allowed', content: jsonContent(ref('Error')) },
        '413': response('PayloadTooLarge'),
        '415': response('UnsupportedMediaType'),
        '429': { description: 'Too many hub requests from this client IP; see Retry-After', content: jsonContent(ref('Error')) },
        '500': response('InternalError'),
      },
    },
    'GET /admin/status': {
      tags: ['admin'],
      summary: 'Dataset, publishing, outbox and quarantine state',
      description: 'dataset { epoch, revision, records }, publish (published_revision, up_to_date, keys queued, KV puts, deletes and failures, next attempt), outbox { fanout, pending, unconfirmed }, reconciliation { pass_under_way }, quarantine { count }, stats { built }.',
      security: [{ adminToken: [] }],
      responses: { '200': ok('Status', { type: 'object', required: ['dataset', 'publish', 'outbox', 'reconciliation', 'quarantine'] }), ...ADMIN_RESPONSES },
    },
    'GET /admin/quarantine': {
      tags: ['admin'],
      summary: 'Invalid values found under event: keys',
      description: 'Each with key, id, digest, problem and first_seen; they are never served.',
      security: [{ adminToken: [] }],
      responses: { '200': ok('Quarantined values', listOf({ type: 'object' })), ...ADMIN_RESPONSES },
    },
    'GET /admin/websub': {
      tags: ['admin'],
      summary: 'The WebSub hub\'s verified subscriptions, oldest first',
      description: 'Each with id (ws_…), callback, topic, filters, signed (whether a hub.secret was given; the secret is never shown), lease_seconds, expires_at, created_at and verified_at.',
      security: [{ adminToken: [] }],
      responses: {
        '200': ok(
          'Subscriptions',
          listOf({
            type: 'object',
            properties: { id: { type: 'string', pattern: '^ws_[0-9a-f]{24}$' }, callback: { type: 'string' }, topic: { type: 'string' }, filters: { type: 'object' }, signed: { type: 'boolean' }, lease_seconds: { type: 'integer' }, expires_at: { type: 'string', format: 'date-time' }, created_at: { type: 'string', format: 'date-time' }, verified_at: { type: 'string', format: 'date-time' } },
            required: ['id', 'callback', 'topic', 'filters', 'signed', 'lease_seconds', 'expires_at', 'created_at', 'verified_at'],
          }),
        ),
        ...ADMIN_RESPONSES,
      },
    },
    'GET /admin/websub/{id}/deliveries': {
      tags: ['admin'],
      summary: 'A WebSub subscription\'s delivery log, newest first',
      description: 'The same log and entry shape as a webhook subscription\'s (type websub.notification, revision: the dataset revision pushed).',
      security: [{ adminToken: [] }],
      parameters: [...parametersOf(WebSubIdParam, 'path', { id: 'a WebSub subscription id (ws_ and 24 hex digits), as GET /admin/websub lists it' }), ...parametersOf(LogQuery, 'query', { limit: 'attempts to list, newest first' })],
      responses: { '200': ok('Attempts', listOf({ type: 'object' })), '400': response('InvalidParameter'), '404': response('NotFound'), ...ADMIN_RESPONSES },
    },
  };
}

/** What a replay is described by, as `POST /subscriptions/{id}/replay` answers and `GET …/replays` lists it (beside its status). */
const REPLAY_PROPERTIES: Json = {
  replay_id: { type: 'string', pattern: '^rpl_[0-9a-f]{24}$' },
  subscription_id: { type: 'string' },
  since: { type: 'string', format: 'date-time' },
  until: { type: 'string', format: 'date-time' },
  event_types: { type: 'array', items: { enum: [...SUBSCRIBABLE_EVENT_TYPES] } },
  changes_in_window: { type: 'integer', description: 'changes of those types committed in the window: at most this many alerts (the filters are applied as they are queued)' },
};

/** An error response of the shared shape. */
const errorResponse = (description: string, headers?: Json): Json => ({ description, content: jsonContent(ref('Error')), ...(headers ? { headers } : {}) });

/** The Standard Webhooks headers of every delivery. */
const WEBHOOK_HEADERS: Json[] = [
  { name: 'webhook-id', in: 'header', required: true, description: 'Message id (msg_ and 32 hex digits), the same on every retry and redelivery of one message: ignore repeats', schema: { type: 'string', pattern: '^msg_[0-9a-f]{32}$' } },
  { name: 'webhook-timestamp', in: 'header', required: true, description: 'When this attempt was sent, in Unix seconds; reject deliveries more than 5 minutes off', schema: { type: 'string', pattern: '^[0-9]+$' } },
  {
    name: 'webhook-signature',
    in: 'header',
    required: true,
    description: 'v1,<base64 HMAC-SHA256> keyed with the base64-decoded part of the whsec_ secret, over "<webhook-id>.<webhook-timestamp>.<raw body>"',
    schema: { type: 'string', pattern: '^v1,[A-Za-z0-9+/]+={0,2}( v1,[A-Za-z0-9+/]+={0,2})*$' },
  },
];

/** Everything strikewire pushes: the webhook message types and the WebSub notification. */
export type NotificationType = (typeof WEBHOOK_EVENT_TYPES)[number] | typeof WEBSUB_NOTIFICATION;

/**
 * The version of each notification's payload, documented on it as
 * `x-payload-version`: within a version a payload keeps its shape (fields may
 * be added, none is removed, renamed or given another type or meaning); a
 * change that breaks this makes a new version, documented here and in the
 * README's event catalog.
 */
export const PAYLOAD_VERSIONS: Record<NotificationType, number> = { 'event.created': 1, 'event.updated': 1, 'event.deleted': 1, ping: 1, [WEBSUB_NOTIFICATION]: 1 };

/** What each notification's description says of its version. */
const versionNote = (type: NotificationType): string =>
  `Payload version ${PAYLOAD_VERSIONS[type]} (x-payload-version): within a version the payload keeps its shape; fields may be added, none is removed, renamed or retyped.`;

/** A delivery of `type`, whose `data` is `data`. */
function webhook(type: (typeof WEBHOOK_EVENT_TYPES)[number], summary: string, data: Json): Json {
  return {
    post: {
      summary,
      description: `A POST with the headers of Standard Webhooks (https://www.standardwebhooks.com); verify the raw body before parsing it (README, "Verifying a delivery"). ${versionNote(type)}`,
      'x-payload-version': PAYLOAD_VERSIONS[type],
      parameters: WEBHOOK_HEADERS,
      requestBody: {
        required: true,
        content: jsonContent({ type: 'object', properties: { type: { const: type }, timestamp: { type: 'string', format: 'date-time', description: 'when the change happened, not when this attempt was sent' }, data }, required: ['type', 'timestamp', 'data'], additionalProperties: false }),
      },
      responses: {
        '2XX': { description: 'Delivered: answer within 10 seconds' },
        '410': { description: 'Gone: the subscription is disabled at once' },
        default: { description: 'Retried on no answer, 408, 429 and 5xx (honouring Retry-After), up to 10 attempts; other answers are not retried' },
      },
    },
  };
}

/** A JSON Feed document as the feeds serve it (only what a subscriber relies on; the feed carries more). */
const JSON_FEED: Json = {
  type: 'object',
  properties: {
    version: { const: JSON_FEED_VERSION },
    title: { type: 'string' },
    home_page_url: { type: 'string', format: 'uri', description: 'the /events list of the same filters' },
    feed_url: { type: 'string', format: 'uri', description: 'the topic URL' },
    hubs: { type: 'array', items: { type: 'object', properties: { type: { const: 'WebSub' }, url: { type: 'string', format: 'uri' } }, required: ['type', 'url'] } },
    items: {
      type: 'array',
      items: {
        type: 'object',
        properties: { id: { type: 'string', description: 'tag:strikewire,2026:event:<id>, the same in every feed and forever' }, url: { type: 'string', format: 'uri' }, title: { type: 'string' } },
        required: ['id', 'url', 'title'],
      },
    },
  },
  required: ['version', 'title', 'feed_url', 'hubs', 'items'],
};

/**
 * The WebSub content distribution: the topic's feed, as `GET <topic>` serves
 * it then, POSTed to each verified subscription's callback.
 */
function webSubNotification(): Json {
  return {
    post: {
      summary: 'A feed changed: its new body (WebSub content distribution)',
      description: `Sent to the callback of each verified subscription (POST /websub) once per write that changes a record the topic's filters match, in its new or its previous version: the topic's feed as GET of the topic URL serves it then, with its Content-Type, Link rel="hub" and rel="self" (the topic URL) and, when hub.secret was given, X-Hub-Signature: sha256=<hex HMAC-SHA256 of the raw body keyed with the secret>; verify the raw bytes. Delivered, retried and logged as webhooks are (README, "WebSub: feeds pushed to subscribers"). ${versionNote(WEBSUB_NOTIFICATION)}`,
      'x-payload-version': PAYLOAD_VERSIONS[WEBSUB_NOTIFICATION],
      parameters: [
        { name: 'Link', in: 'header', required: true, description: 'the hub and the topic: <origin/websub>; rel="hub", <topic URL>; rel="self"', schema: { type: 'string', pattern: '^<[^>]+>; rel="hub", <[^>]+>; rel="self"$' } },
        { name: 'X-Hub-Signature', in: 'header', required: false, description: 'sent when the subscription gave hub.secret: sha256= and the hex HMAC-SHA256 of the raw body', schema: { type: 'string', pattern: '^sha256=[0-9a-f]{64}$' } },
      ],
      requestBody: {
        required: true,
        content: {
          [FEED_MEDIA_TYPES.atom]: { schema: { type: 'string', description: 'an Atom 1.0 feed document, as the topic serves it' } },
          [FEED_MEDIA_TYPES.rss]: { schema: { type: 'string', description: 'an RSS 2.0 document, as the topic serves it' } },
          [FEED_MEDIA_TYPES.json]: { schema: JSON_FEED },
        },
      },
      responses: {
        '2XX': { description: 'Delivered: answer within 10 seconds' },
        default: { description: 'Retried on no answer, 408, 429 and 5xx (honouring Retry-After), up to 10 attempts; other answers are not retried' },
      },
    },
  };
}

/** The named schemas generated from valibot; subscription `filters` also take each list as one comma-separated string, and `url` is described. */
function generatedSchemas(): Record<string, Json> {
  const schemas = converter.components() as Record<string, Json>;
  const input = schemas.SubscriptionInput as { properties: Record<string, Json> };
  input.properties.filters = { ...filtersBodySchema(), default: {} };
  input.properties.url = { ...input.properties.url, format: 'uri', description: 'https to a public host on port 443 or 8443 (README, "Writing records and webhook alerts")' };
  return schemas;
}

/** A name for code generators: `GET /events/{id}` is `getEventsById`, `GET /feed.rss` `getFeedRss`, `GET /` `getRoot`. */
function operationId(method: string, path: string): string {
  const words = path.split(/[/.-]/).filter(Boolean).flatMap((word) => (word.startsWith('{') ? ['by', word.slice(1, -1)] : [word]));
  return [method.toLowerCase(), ...(words.length > 0 ? words : ['root'])].map((word, index) => (index === 0 ? word : word[0]!.toUpperCase() + word.slice(1))).join('');
}

/** Builds the whole document. */
function buildDocument(): Json {
  const paths: Record<string, Record<string, Operation>> = {};
  for (const [route, operation] of Object.entries(operations())) {
    const [method, path] = route.split(' ') as [string, string];
    (paths[path] ??= {})[method.toLowerCase()] = { operationId: operationId(method, path), ...operation };
  }
  const webhooks: Record<NotificationType, Json> = {
    'event.created': webhook('event.created', 'A record was added', ref('Event')),
    'event.updated': webhook('event.updated', 'A record changed, or a retracted one was written again (sent to subscribers whose filters match the new or the previous version)', ref('Event')),
    'event.deleted': webhook('event.deleted', 'A record was retracted (sent to subscribers whose filters matched its last version): the tombstone and that last version', ref('DeletedData')),
    ping: webhook('ping', 'A test delivery (POST /subscriptions/{id}/test)', { type: 'object', properties: { subscription_id: { type: 'string' } }, required: ['subscription_id'], additionalProperties: false }),
    [WEBSUB_NOTIFICATION]: webSubNotification(),
  };
  return {
    openapi: '3.1.0',
    info: { title: SERVICE.name, version: '0.1.0', description: `${SERVICE.description}\n\n${SERVICE.caching} ${SERVICE.source}`, license: { name: 'MIT', identifier: 'MIT' } },
    servers: [{ url: '/' }],
    tags: ['events', 'changes', 'feeds', 'exports', 'stats', 'tallies', 'actors', 'writes', 'webhooks', 'websub', 'admin', 'meta'].map((name) => ({ name })),
    paths,
    webhooks,
    components: {
      schemas: {
        ...generatedSchemas(),
        WriteResults: {
          type: 'object',
          properties: {
            results: {
              type: 'array',
              items: {
                type: 'object',
                properties: { id: { type: 'string' }, change: { enum: ['created', 'updated', 'unchanged'] }, revision: { type: 'integer' }, updated_at: { type: 'string', format: 'date-time' }, url: { type: 'string' } },
                required: ['id', 'change', 'revision', 'updated_at', 'url'],
              },
            },
          },
          required: ['results'],
        },
        Subscription: SUBSCRIPTION,
        Tombstone: TOMBSTONE,
        DeletedData: { allOf: [TOMBSTONE, { type: 'object', properties: { last_version: ref('Event') }, required: ['last_version'] }] },
        Change: {
          type: 'object',
          properties: {
            kind: { enum: [...CHANGE_KINDS] },
            id: { type: 'string' },
            revision: { type: 'integer', description: 'the record revision the change made (a retraction has its own)' },
            changed_at: { type: 'string', format: 'date-time', description: 'when the change was committed' },
            record: { anyOf: [ref('Event'), { type: 'null' }], description: 'the record as of the change; null for a retraction' },
            tombstone: { anyOf: [ref('Tombstone'), { type: 'null' }], description: 'the tombstone of a retraction; null otherwise' },
          },
          required: ['kind', 'id', 'revision', 'changed_at', 'record', 'tombstone'],
        },
      },
      responses: {
        InvalidParameter: errorResponse('A query or path parameter is invalid or unknown (code invalid_parameter); fields names each'),
        InvalidBody: errorResponse('The body is not valid JSON, has the wrong size of batch or an invalid field (codes invalid_body, invalid_parameter with the dotted field path)'),
        NotFound: errorResponse('No such record, actor or subscription (field id); also any route that does not exist (field path)'),
        NotModified: { description: 'The copy named by If-None-Match / If-Modified-Since is current; no body' },
        Unauthorized: errorResponse('Missing or invalid admin bearer token (field authorization)'),
        PayloadTooLarge: errorResponse('The body is too large (field body)'),
        UnsupportedMediaType: errorResponse('The body is not application/json (field content-type)'),
        AdminDisabled: errorResponse('Writes are disabled: no ADMIN_TOKEN secret is configured, or MAX_RECORDS_PER_POST is invalid (code misconfigured)'),
        IndexUnavailable: errorResponse('The index is being updated at this location; retry after Retry-After seconds', { 'Retry-After': { schema: { type: 'integer' } } }),
        InternalError: errorResponse('Internal error'),
        Retracted: { description: 'The record was retracted: its tombstone (not an error body)', content: { ...jsonContent(ref('Tombstone')), 'text/html': { schema: { type: 'string', description: 'a page saying the record was retracted' } } } },
      },
      securitySchemes: {
        adminToken: { type: 'http', scheme: 'bearer', description: 'The ADMIN_TOKEN secret' },
        subscriptionToken: { type: 'http', scheme: 'bearer', description: 'A subscription\'s scoped swt_ token (from its creation or rotate-token): manages that subscription only' },
      },
    },
  };
}

/** The document, built once per isolate. */
let document: Json | null = null;

/** The OpenAPI description (built on first use). */
export const openApiDocument = (): Json => (document ??= buildDocument());

/** Routes `/openapi.json` and `/docs`. */
export const openApiRoutes = new Hono<{ Bindings: Env }>()
  .get('/openapi.json', etag(), (c) => {
    c.header('Cache-Control', 'public, max-age=300');
    return c.json(openApiDocument());
  })
  .get(
    '/docs',
    Scalar({
      url: '/openapi.json',
      cdn: SCALAR_BUNDLE_PATH,
      pageTitle: `${SERVICE.name} API reference`,
      // Nothing that needs Scalar's services or another host: system fonts, no AI agent, MCP, telemetry or hosted tools.
      withDefaultFonts: false,
      agent: { disabled: true },
      mcp: { disabled: true },
      telemetry: false,
      showDeveloperTools: 'never',
    }),
  );
