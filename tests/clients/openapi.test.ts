/**
 * The OpenAPI description and the API reference as clients get them over
 * HTTP from the Worker in local workerd (wrangler's test harness, with its
 * Static Assets; loopback webhooks allowed, bundled seeding off):
 * - `/openapi.json` is a valid OpenAPI 3.1 document for
 *   `@seriousme/openapi-schema-validator` (which does refuse a broken one);
 * - real webhook deliveries (`ping`, `event.created`, `event.updated`),
 *   caught by a local receiver, fit the documented payloads and headers
 *   (checked with Ajv, JSON Schema 2020-12, formats included);
 * - `/docs` loads its script from the same origin, which serves the
 *   standalone bundle of `@scalar/api-reference` as JavaScript.
 * The route and parameter checks run in workerd: tests/openapi.test.ts.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHarness } from 'wrangler';
import { makeEventInput } from '../fixtures/records.ts';
import { waitFor } from './processes.ts';

const TOKEN = 'openapi-admin-token';
const ADMIN = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
/** The standalone bundle of @scalar/api-reference (the package does not export it, so by path). */
const SCALAR_BUNDLE = fileURLToPath(new URL('../../node_modules/@scalar/api-reference/dist/browser/standalone.js', import.meta.url));

/** One delivery as the receiver got it. */
interface Delivery {
  headers: Record<string, string>;
  body: { type: string };
}

describe('the OpenAPI description and the API reference, over HTTP', { timeout: 60_000 }, () => {
  const server = createTestHarness({
    workers: [{ configPath: fileURLToPath(new URL('../../wrangler.toml', import.meta.url)), vars: { SEED_FROM_BUNDLE: 'false', ADMIN_TOKEN: TOKEN, ALLOW_LOOPBACK_WEBHOOKS: 'true' } }],
  });
  const deliveries: Delivery[] = [];
  let receiver: Server;
  let base = '';
  let document: any;

  beforeAll(async () => {
    base = (await server.listen()).url.origin;
    receiver = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      request.on('end', () => {
        deliveries.push({ headers: request.headers as Record<string, string>, body: JSON.parse(body) });
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const response = await fetch(`${base}/openapi.json`);
    expect(response.status).toBe(200);
    document = await response.json();
  });

  afterAll(async () => {
    await new Promise((resolve) => receiver?.close(resolve));
    await server.close();
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    expect(await validator.validate(document)).toEqual({ valid: true });
    expect(validator.version).toBe('3.1');
    const broken = structuredClone(document);
    broken.paths['/events'].get.responses['200'] = { content: {} };
    expect((await new Validator().validate(broken)).valid, 'a response without a description').toBe(false);
  });

  it('describes the webhook deliveries the Worker really sends', async () => {
    const port = (receiver.address() as AddressInfo).port;
    const api = (method: string, path: string, body?: unknown) => fetch(`${base}${path}`, { method, headers: ADMIN, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const subscription = (await (await api('POST', '/subscriptions', { url: `http://127.0.0.1:${port}/hook` })).json()) as { id: string };
    expect((await api('POST', `/subscriptions/${subscription.id}/test`)).status).toBe(202);
    expect((await api('POST', '/events', makeEventInput('openapi-webhook', '2024-03-03'))).status).toBe(201);
    expect((await api('POST', '/events', makeEventInput('openapi-webhook', '2024-03-03', { title: 'Synthetic event openapi-webhook, edited' }))).status).toBe(200);
    const types = () => new Set(deliveries.map((delivery) => delivery.body.type));
    await waitFor('ping, event.created and event.updated', () => (types().size === 3 ? true : undefined), () => JSON.stringify([...types()]));

    const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
    addFormats.default(ajv);
    ajv.addSchema(document, 'openapi.json');
    for (const delivery of deliveries) {
      const type = delivery.body.type;
      const webhook = document.webhooks[type]?.post;
      expect(webhook, type).toBeDefined();
      const validate = ajv.getSchema(`openapi.json#/webhooks/${type}/post/requestBody/content/application~1json/schema`)!;
      expect(validate(delivery.body), `${type}: ${ajv.errorsText(validate.errors)}`).toBe(true);
      for (const header of webhook.parameters) {
        expect(delivery.headers[header.name], `${type} ${header.name}`).toMatch(new RegExp(header.schema.pattern));
      }
    }
    const validateEvent = ajv.getSchema('openapi.json#/components/schemas/Event')!;
    expect(validateEvent({ ...deliveries.find((delivery) => delivery.body.type === 'event.created')!.body, unexpected: true }), 'the Event schema refuses unknown fields').toBe(false);
  });

  it('serves /docs with its script from this origin, no CDN', async () => {
    const response = await fetch(`${base}/docs`);
    expect(response.status).toBe(200);
    const sources = [...(await response.text()).matchAll(/<script\b[^>]*\bsrc="([^"]*)"/g)].map((match) => new URL(match[1]!, `${base}/docs`));
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) {
      expect(source.origin).toBe(base);
      const script = await fetch(source);
      expect(script.status, source.href).toBe(200);
      expect(script.headers.get('content-type'), source.href).toMatch(/javascript/);
      expect(Buffer.from(await script.arrayBuffer()).equals(readFileSync(SCALAR_BUNDLE)), 'the package\'s standalone bundle').toBe(true);
    }
  });
});
