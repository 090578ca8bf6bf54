/**
 * `GET /openapi.json` against the app it describes, and `GET /docs`:
 * - every route of the app (Hono's route table) is described, and nothing
 *   that is not a route;
 * - every documented query parameter is what its route accepts: each enum
 *   value and each limit bound is accepted, a value just outside is refused
 *   with a 400 naming the parameter, and a parameter documented for other
 *   routes but not this one is refused as unknown; the enums and limits are
 *   the domain's own constants;
 * - every 4xx/5xx is documented as the Error schema, and real errors fit it;
 * - the webhooks are documented with their Standard Webhooks headers, the
 *   WebSub notification with its headers and the feed bodies the topics
 *   serve, each with its payload version;
 * - `/docs` loads scripts from this origin only.
 * The description is checked with an OpenAPI 3.1 validator in Node
 * (tests/clients/openapi.test.ts): the validators compile JSON Schema to
 * code, which workerd does not allow.
 */
import { Hono } from 'hono';
import * as v from 'valibot';
import { beforeAll, describe, expect, it } from 'vitest';
import { app } from '../functions/app.ts';
import { encodeChangesCursor } from '../functions/domain/change-feed.ts';
import { DEFAULT_LIMIT, encodeCursor, MAX_LIMIT } from '../functions/domain/query.ts';
import { ACTOR_ROLES, EVENT_TYPES, LOCATION_PRECISIONS, WEAPONS } from '../functions/domain/schema.ts';
import { FEED_MEDIA_TYPES } from '../functions/domain/feed.ts';
import { WEBHOOK_EVENT_TYPES } from '../functions/domain/webhook-signing.ts';
import { hubLinkHeader, hubSignature, WEBSUB_NOTIFICATION } from '../functions/domain/websub.ts';
import { ErrorBodySchema } from '../functions/routes/errors.ts';
import { PAYLOAD_VERSIONS, SCALAR_BUNDLE_PATH } from '../functions/routes/openapi.ts';
import { call, getJson, makeEvent, seed } from './helpers.ts';

const ADMIN = { authorization: 'Bearer test-admin-token' };

interface Parameter {
  name: string;
  in: string;
  schema: { type?: string; enum?: string[]; items?: { enum?: string[] }; minimum?: number; maximum?: number; default?: unknown; maxLength?: number; format?: string };
}
interface Operation {
  parameters?: (Parameter | { $ref: string })[];
  responses: Record<string, { $ref?: string; content?: Record<string, { schema: { $ref?: string } }> }>;
  security?: unknown[];
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
  webhooks: Record<string, { post: Operation }>;
  components: { responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }> }> };
}

/** Paths a route answers under a second form: `GET /events/:id` also serves `<id>.json`, the record's JSON link (one route, so that Hono keeps its RegExpRouter: routes/events.ts). */
const SECOND_FORMS: Record<string, string> = { 'GET /events/{id}': 'GET /events/{id}.json' };

/** The routes of a Hono app as `METHOD /path`, path parameters as OpenAPI templates, with their second forms; middleware (`ALL`) left out. */
const routesOf = (hono: Hono<any>): string[] =>
  [...new Set(hono.routes.filter((route) => route.method !== 'ALL').flatMap(({ method, path }) => [`${method} ${openApiPath(path)}`, SECOND_FORMS[`${method} ${openApiPath(path)}`] ?? []].flat()))].sort();

/** A Hono path as an OpenAPI template: `:id` (with or without a pattern) is `{id}`. */
const openApiPath = (path: string): string => path.replace(/:(\w+)(\{[^}]*\})?/g, '{$1}');

/** The operations of a description as `METHOD /path`. */
const operationsOf = (document: Document): string[] =>
  Object.entries(document.paths)
    .flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`))
    .sort();

/** Routes the description lacks, and operations it describes that are no route. */
const mismatches = (routes: string[], operations: string[]) => ({ undescribed: routes.filter((route) => !operations.includes(route)), notRoutes: operations.filter((operation) => !routes.includes(operation)) });

/** Values that are not enum values, limits or formats, per parameter name: each must be valid. */
const SAMPLES: Record<string, string> = {
  since: '2024-01-01',
  until: '2024-12-31',
  country: 'IQ,sy',
  actor: 'KH',
  q: 'drone',
  bbox: '38,29,49,38',
  cursor: encodeCursor('2024-01-01|some-record'),
  updated_since: '2024-01-01T00:00:00Z',
};

/** Samples of parameters whose meaning depends on the route: `since` is a cursor on /changes. */
const ROUTE_SAMPLES: Record<string, Record<string, string>> = { '/changes': { since: encodeChangesCursor({ epoch: 'abc123', seq: 0 }) } };

/** Values a route must accept for a parameter documented with `schema`. */
function acceptedValues(path: string, name: string, schema: Parameter['schema']): string[] {
  if (schema.enum) return schema.enum;
  if (schema.items?.enum) return [schema.items.enum.join(',')];
  if (schema.type === 'integer') return [String(schema.minimum), String(schema.maximum)];
  const sample = ROUTE_SAMPLES[path]?.[name] ?? SAMPLES[name];
  if (sample === undefined) throw new Error(`no sample value for the parameter ${name}: add one to SAMPLES`);
  return [sample];
}

/** Values just outside what `schema` documents, which a route must refuse. */
function refusedValues(schema: Parameter['schema']): string[] {
  if (schema.enum || schema.items?.enum) return ['not-a-value'];
  if (schema.type === 'integer') return [String(schema.minimum! - 1), String(schema.maximum! + 1)];
  if (schema.format === 'date') return ['2024-02-30'];
  if (schema.maxLength !== undefined) return ['x'.repeat(schema.maxLength + 1)];
  return [];
}

/** A path with its `{id}` filled: a well-formed id that names nothing. */
/** A path of the description with a well-formed id of its kind (a subscription's, a WebSub subscription's or a record's) that names nothing. */
const concretePath = (path: string) => path.replace('{id}', path.startsWith('/subscriptions') ? `sub_${'0'.repeat(32)}` : path.startsWith('/admin/websub') ? `ws_${'0'.repeat(24)}` : 'no-such-record');

const queryParameters = (operation: Operation): Parameter[] => (operation.parameters ?? []).filter((parameter): parameter is Parameter => 'in' in parameter && parameter.in === 'query');

describe('GET /openapi.json', () => {
  let document: Document;

  beforeAll(async () => {
    const { status, body, response } = await getJson<Document>('/openapi.json');
    expect(status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    document = body;
  });

  it('describes every route of the app, and only those', () => {
    expect(mismatches(routesOf(app), operationsOf(document))).toEqual({ undescribed: [], notRoutes: [] });
    expect(operationsOf(document)).toEqual(expect.arrayContaining(['GET /events', 'POST /events', 'GET /events/{id}', 'POST /subscriptions/{id}/enable', 'GET /admin/status', 'GET /openapi.json', 'GET /docs']));
  });

  it('notices a route that is not described', () => {
    const grown = new Hono().route('/', app).get('/not-described', (c) => c.text(''));
    expect(mismatches(routesOf(grown), operationsOf(document))).toEqual({ undescribed: ['GET /not-described'], notRoutes: [] });
  });

  it('documents enums and limits as the domain defines them', () => {
    const parameter = (path: string, name: string) => queryParameters(document.paths[path]!.get!).find((found) => found.name === name)!.schema;
    for (const path of ['/events', '/feed.atom', '/events.csv', '/stats']) {
      expect(parameter(path, 'type').items!.enum).toEqual([...EVENT_TYPES]);
      expect(parameter(path, 'weapon').items!.enum).toEqual([...WEAPONS]);
      expect(parameter(path, 'actor_role').items!.enum).toEqual([...ACTOR_ROLES]);
      expect(parameter(path, 'precision').items!.enum).toEqual([...LOCATION_PRECISIONS]);
      expect(parameter(path, 'has_casualties').enum).toEqual(['true', 'false', 'unknown']);
    }
    for (const path of ['/events', '/feed.rss', '/events.geojson']) expect(parameter(path, 'limit')).toMatchObject({ type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT });
    expect(parameter('/subscriptions/{id}/deliveries', 'limit')).toMatchObject({ minimum: 1, maximum: MAX_LIMIT, default: 100 });
  });

  it('documents exactly the query parameters each route accepts, with its enums and limits', { timeout: 60_000 }, async () => {
    const everyName = new Set(Object.values(document.paths).flatMap((operations) => Object.values(operations).flatMap((operation) => queryParameters(operation).map((parameter) => parameter.name))));
    let probes = 0;
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const parameters = queryParameters(operation);
        if (parameters.length === 0) continue;
        const send = async (name: string, value: string) => {
          probes += 1;
          const response = await call(`${concretePath(path)}?${new URLSearchParams({ [name]: value })}`, { method: method.toUpperCase(), headers: operation.security ? ADMIN : {} });
          const body = response.status === 400 ? v.parse(ErrorBodySchema, await response.json()) : (await response.body?.cancel(), null);
          return { status: response.status, fields: body?.error.fields?.map((problem) => `${problem.field}: ${problem.message}`) ?? [] };
        };
        const where = `${method.toUpperCase()} ${path}`;
        for (const { name, schema } of parameters) {
          for (const value of acceptedValues(path, name, schema)) {
            const accepted = await send(name, value);
            expect(accepted.status, `${where} ${name}=${value}: ${accepted.fields}`).not.toBe(400);
          }
          for (const value of refusedValues(schema)) {
            const refused = await send(name, value);
            expect(refused.status, `${where} ${name}=${value}`).toBe(400);
            expect(refused.fields.every((field) => field.startsWith(`${name}: `)), `${where} ${name}=${value}: ${refused.fields}`).toBe(true);
          }
        }
        const documented = new Set(parameters.map((parameter) => parameter.name));
        for (const name of [...everyName].filter((known) => !documented.has(known)).concat('not_a_parameter')) {
          expect((await send(name, SAMPLES[name] ?? '1')).fields, `${where} ${name}`).toEqual([`${name}: is not a known parameter`]);
        }
      }
    }
    expect(probes).toBeGreaterThan(200);
  });

  it('documents every 4xx and 5xx as the Error schema, which real errors fit', async () => {
    const responses = Object.values(document.paths).flatMap((operations) => Object.values(operations).flatMap((operation) => Object.entries(operation.responses)));
    // A retracted record's 410 is its tombstone, not an error.
    const errorStatuses = responses.filter(([status, response]) => Number(status) >= 400 && response.$ref !== '#/components/responses/Retracted');
    expect(errorStatuses.length).toBeGreaterThan(50);
    for (const [status, response] of errorStatuses) {
      const resolved = response.$ref ? document.components.responses[response.$ref.split('/').pop()!]! : response;
      expect(resolved.content?.['application/json']?.schema, status).toEqual({ $ref: '#/components/schemas/Error' });
    }
    for (const [path, init] of [['/events?limit=0', {}], ['/nowhere', {}], ['/events/no-such-record', {}], ['/subscriptions', {}], ['/events', { method: 'POST', headers: { ...ADMIN, 'content-type': 'text/plain' }, body: 'x' }]] as const) {
      const response = await call(path, init);
      expect(response.status, path).toBeGreaterThanOrEqual(400);
      expect(v.safeParse(ErrorBodySchema, await response.json()).success, path).toBe(true);
    }
  });

  it('documents the webhook payloads with their Standard Webhooks headers', () => {
    expect(Object.keys(document.webhooks).sort()).toEqual([...WEBHOOK_EVENT_TYPES, WEBSUB_NOTIFICATION].sort());
    for (const type of WEBHOOK_EVENT_TYPES) {
      expect((document.webhooks[type]!.post.parameters as Parameter[]).map((header) => `${header.in} ${header.name}`), type).toEqual(['header webhook-id', 'header webhook-timestamp', 'header webhook-signature']);
    }
  });

  it('documents a payload version on every notification', () => {
    for (const [type, { post }] of Object.entries(document.webhooks) as [keyof typeof PAYLOAD_VERSIONS, { post: any }][]) {
      expect(post['x-payload-version'], type).toBe(PAYLOAD_VERSIONS[type]);
      expect(Number.isInteger(post['x-payload-version']) && post['x-payload-version'] >= 1, type).toBe(true);
      expect(post.description, type).toContain(`Payload version ${PAYLOAD_VERSIONS[type]}`);
    }
  });

  it('documents the WebSub notification: its headers as the hub sends them and the feed bodies the topics serve', async () => {
    const { post } = document.webhooks[WEBSUB_NOTIFICATION]! as { post: any };
    const headers = post.parameters as (Parameter & { required: boolean; schema: { pattern: string } })[];
    expect(headers.map((header) => `${header.in} ${header.name} ${header.required}`)).toEqual(['header Link true', 'header X-Hub-Signature false']);
    const [link, signature] = headers;
    expect(hubLinkHeader('https://strikewire.test', 'https://strikewire.test/feed.atom?country=SY')).toMatch(new RegExp(link!.schema.pattern));
    expect(await hubSignature('a subscriber secret', '<feed/>')).toMatch(new RegExp(signature!.schema.pattern));
    expect(Object.keys(post.requestBody.content).sort()).toEqual(Object.values(FEED_MEDIA_TYPES).sort());

    // The JSON Feed schema holds for what /feed.json serves.
    await seed([makeEvent('openapi-websub-item', '2021-05-05')], '2026-01-01T00:00:00.000Z');
    const schema = post.requestBody.content[FEED_MEDIA_TYPES.json].schema;
    const served = (await getJson('/feed.json')).body as Record<string, any>;
    expect(served.version).toBe(schema.properties.version.const);
    for (const key of schema.required) expect(served, key).toHaveProperty(key);
    expect(served.items.length).toBeGreaterThan(0);
    for (const item of served.items) for (const key of schema.properties.items.items.required) expect(item, key).toHaveProperty(key);
    expect(served.hubs).toEqual([{ type: 'WebSub', url: expect.stringMatching(/\/websub$/) }]);
  });
});

describe('GET /docs', () => {
  it('is an HTML page whose scripts all come from this origin', async () => {
    const response = await call('/docs');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await response.text();
    const sources = [...html.matchAll(/<script\b[^>]*\bsrc="([^"]*)"/g)].map((match) => match[1]!);
    expect(sources).toEqual([SCALAR_BUNDLE_PATH]);
    for (const source of sources) expect(new URL(source, 'http://strikewire.test/docs').origin, source).toBe('http://strikewire.test');
    expect(html, 'no other origin named anywhere in the page').not.toMatch(/(?:https?:)?\/\/[\w.-]+\.[a-z]{2,}/i);
    expect(html).toContain('"url": "/openapi.json"');
  });
});
