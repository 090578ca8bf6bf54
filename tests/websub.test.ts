/**
 * strikewire as a W3C WebSub hub, in workerd, against a subscriber written
 * to the spec inside the test (every outbound request goes through its
 * mocked `fetch` and is observed): feeds advertising the hub with one self
 * link, verification of intent (the challenge echoed or not), content
 * distribution after a matching write and none after another, the
 * X-Hub-Signature checked with Web Crypto, unsubscribing, lease expiry by the
 * cron, the caps and the rate limit, and 400s naming the `hub.*` field.
 */
import { createScheduledController } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Event } from '../functions/domain/schema.ts';
import { WEBSUB_LIMITS } from '../functions/domain/websub.ts';
import worker from '../functions/index.ts';
import { call, coordinatorStub, getJson, makeEvent, settled } from './helpers.ts';

const ORIGIN = 'http://strikewire.test';
const ADMIN = { authorization: 'Bearer test-admin-token', 'content-type': 'application/json' };
const FORM = 'application/x-www-form-urlencoded';

/** One request the Worker sent out. */
interface Outbound {
  method: string;
  url: URL;
  headers: Headers;
  body: string;
}

/** How the subscriber answers a verification request for a callback (`silent`: echoes it, then never answers a distribution). */
type Answer = 'echo' | 'wrong' | 'not_found' | 'silent';

/**
 * A WebSub subscriber (spec §5.3, §7, §8): answers a verification GET with
 * the challenge when it wants the (mode, topic) asked about, records
 * denials, and accepts content distributions, checking X-Hub-Signature
 * (HMAC-SHA256 of the raw body with its secret) before trusting them.
 */
class Subscriber {
  readonly outbound: Outbound[] = [];
  readonly notifications: { callback: string; body: string; headers: Headers; signatureValid: boolean | null }[] = [];
  readonly denials: URL[] = [];
  private readonly answers = new Map<string, Answer>();
  private readonly secrets = new Map<string, string>();

  expect(callback: string, answer: Answer, secret?: string): void {
    this.answers.set(callback, answer);
    if (secret) this.secrets.set(callback, secret);
  }

  verifications(callback: string): URL[] {
    return this.outbound.filter((request) => request.method === 'GET' && callbackOf(request.url) === callback && request.url.searchParams.get('hub.mode') !== 'denied').map((request) => request.url);
  }

  for(callback: string) {
    return this.notifications.filter((notification) => notification.callback === callback);
  }

  readonly fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const body = request.method === 'GET' ? '' : await request.text();
    const url = new URL(request.url);
    this.outbound.push({ method: request.method, url, headers: request.headers, body });
    const callback = callbackOf(url);
    const answer = this.answers.get(callback);
    if (answer === undefined) return new Response('unknown callback', { status: 404 });
    if (request.method === 'GET') {
      if (url.searchParams.get('hub.mode') === 'denied') {
        this.denials.push(url);
        return new Response(null, { status: 200 });
      }
      if (answer === 'not_found') return new Response('no', { status: 404 });
      const challenge = url.searchParams.get('hub.challenge') ?? '';
      return new Response(answer === 'echo' || answer === 'silent' ? challenge : `${challenge}x`, { status: 200 });
    }
    if (answer === 'silent') {
      // Holds the connection until the hub gives up on it.
      return new Promise<Response>((_resolve, reject) => request.signal.addEventListener('abort', () => reject(request.signal.reason)));
    }
    const secret = this.secrets.get(callback);
    const signatureValid = secret ? await signatureMatches(secret, body, request.headers.get('x-hub-signature')) : null;
    this.notifications.push({ callback, body, headers: request.headers, signatureValid });
    return new Response(null, { status: signatureValid === false ? 400 : 204 });
  };
}

/** The callback a request went to: its URL without the `hub.*` parameters the hub added. */
function callbackOf(url: URL): string {
  const bare = new URL(url);
  for (const name of [...bare.searchParams.keys()]) if (name.startsWith('hub.')) bare.searchParams.delete(name);
  return bare.href;
}

/** Checks `sha256=<hex>` against the HMAC-SHA256 of `body` with Web Crypto (constant-time verify). */
async function signatureMatches(secret: string, body: string, header: string | null): Promise<boolean> {
  const match = /^sha256=([0-9a-f]{64})$/.exec(header ?? '');
  if (!match) return false;
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  const mac = new Uint8Array(match[1]!.match(/../g)!.map((byte) => parseInt(byte, 16)));
  return crypto.subtle.verify('HMAC', key, mac, new TextEncoder().encode(body));
}

let subscriber: Subscriber;
const limits = { ...WEBSUB_LIMITS };
let ipCounter = 0;

beforeEach(() => {
  subscriber = new Subscriber();
  vi.spyOn(globalThis, 'fetch').mockImplementation(subscriber.fetch);
});

afterEach(() => {
  vi.restoreAllMocks();
  Object.assign(WEBSUB_LIMITS, limits);
});

/** POSTs a hub request from a fresh client IP (unless one is given). */
function hub(fields: Record<string, string>, ip = `198.51.100.${++ipCounter % 250}`): Promise<Response> {
  return call('/websub', { method: 'POST', headers: { 'content-type': FORM, 'cf-connecting-ip': ip }, body: new URLSearchParams(fields).toString() });
}

/** Subscribes `callback` to `topic`, answering verification with `answer`; waits until the verification was answered and its outcome applied. */
async function subscribe(callback: string, topic: string, answer: Answer = 'echo', extra: Record<string, string> = {}): Promise<string> {
  subscriber.expect(callback, answer, extra['hub.secret']);
  const before = subscriber.verifications(callback).length;
  const response = await hub({ 'hub.mode': 'subscribe', 'hub.topic': topic, 'hub.callback': callback, ...extra });
  expect(response.status, await response.clone().text()).toBe(202);
  const { id } = (await response.json()) as { id: string };
  await vi.waitFor(() => expect(subscriber.verifications(callback).length).toBeGreaterThan(before), { timeout: 5_000 });
  if (answer === 'echo' || answer === 'silent') await vi.waitFor(async () => expect((await activeIds()).includes(id)).toBe(true), { timeout: 5_000 });
  else await new Promise((resolve) => setTimeout(resolve, 200));
  return id;
}

const activeIds = async (): Promise<string[]> => (await coordinatorStub().listWebSub()).map((subscription) => subscription.id);

const syria = (id: string, date = '2025-03-01') => makeEvent(id, date, { location: { name: 'Deir ez-Zor', country: 'SY', lat: 35.33, lon: 40.14, precision: 'city' } });

async function ingest(records: Event[]): Promise<void> {
  const response = await call('/events', { method: 'POST', headers: ADMIN, body: JSON.stringify(records) });
  expect(response.status).toBeLessThan(300);
  await settled();
}

describe('feeds advertise the hub', () => {
  it('names the hub and exactly one self link, the topic URL as requested, in the body and the Link header', async () => {
    await ingest([syria('websub-advert')]);
    const query = '?country=SY&type=attack';
    for (const path of ['/feed.rss', '/feed.atom', '/feed.json']) {
      const response = await call(path + query);
      expect(response.status).toBe(200);
      const topic = `${ORIGIN}${path}${query}`;
      expect(response.headers.get('link')).toBe(`<${ORIGIN}/websub>; rel="hub", <${topic}>; rel="self"`);
      const body = await response.text();
      if (path === '/feed.json') {
        const feed = JSON.parse(body) as { feed_url: string; hubs: { type: string; url: string }[] };
        expect(feed.feed_url).toBe(topic);
        expect(feed.hubs).toEqual([{ type: 'WebSub', url: `${ORIGIN}/websub` }]);
      } else {
        const links = [...body.matchAll(/<(?:atom:)?link ([^>]*)\/>/g)].map(([, attributes]) => attributes!);
        expect(links.filter((link) => link.includes('rel="self"')), path).toEqual([expect.stringContaining(`href="${topic.replace(/&/g, '&amp;')}"`)]);
        expect(links.filter((link) => link.includes('rel="hub"')), path).toEqual([expect.stringContaining(`href="${ORIGIN}/websub"`)]);
      }
      const etag = response.headers.get('etag')!;
      const notModified = await call(path + query, { headers: { 'if-none-match': etag } });
      expect(notModified.status).toBe(304);
      expect(notModified.headers.get('link')).toBe(`<${ORIGIN}/websub>; rel="hub", <${topic}>; rel="self"`);
    }
  });
});

describe('POST /websub', () => {
  it('answers 400 naming each hub.* field that is wrong, and 415 for a body that is not a form', async () => {
    const cases: [Record<string, string>, string][] = [
      [{ 'hub.topic': `${ORIGIN}/feed.atom`, 'hub.callback': 'https://reader.example.com/cb' }, 'hub.mode'],
      [{ 'hub.mode': 'follow', 'hub.topic': `${ORIGIN}/feed.atom`, 'hub.callback': 'https://reader.example.com/cb' }, 'hub.mode'],
      [{ 'hub.mode': 'subscribe', 'hub.topic': 'https://elsewhere.example.com/feed.atom', 'hub.callback': 'https://reader.example.com/cb' }, 'hub.topic'],
      [{ 'hub.mode': 'subscribe', 'hub.topic': `${ORIGIN}/events?country=SY`, 'hub.callback': 'https://reader.example.com/cb' }, 'hub.topic'],
      [{ 'hub.mode': 'subscribe', 'hub.topic': `${ORIGIN}/feed.atom?country=Syria`, 'hub.callback': 'https://reader.example.com/cb' }, 'hub.topic'],
      [{ 'hub.mode': 'subscribe', 'hub.topic': `${ORIGIN}/feed.atom?colour=red`, 'hub.callback': 'https://reader.example.com/cb' }, 'hub.topic'],
      [{ 'hub.mode': 'subscribe', 'hub.topic': `${ORIGIN}/feed.atom`, 'hub.callback': 'http://127.0.0.1:9100/cb' }, 'hub.callback'],
      [{ 'hub.mode': 'subscribe', 'hub.topic': `${ORIGIN}/feed.atom`, 'hub.callback': 'https://10.0.0.1/cb' }, 'hub.callback'],
      [{ 'hub.mode': 'subscribe', 'hub.topic': `${ORIGIN}/feed.atom`, 'hub.callback': 'https://reader.example.com/cb', 'hub.lease_seconds': 'ten days' }, 'hub.lease_seconds'],
      [{ 'hub.mode': 'subscribe', 'hub.topic': `${ORIGIN}/feed.atom`, 'hub.callback': 'https://reader.example.com/cb', 'hub.secret': 'x'.repeat(200) }, 'hub.secret'],
    ];
    for (const [fields, field] of cases) {
      const response = await hub(fields);
      const body = (await response.json()) as { error: { code: string; fields: { field: string; message: string }[] } };
      expect(response.status, JSON.stringify(fields)).toBe(400);
      expect(body.error.fields.map((problem) => problem.field), JSON.stringify(fields)).toEqual([field]);
    }
    const json = await call('/websub', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(json.status).toBe(415);
    expect(((await json.json()) as { error: { fields: { field: string }[] } }).error.fields[0]!.field).toBe('content-type');
    expect(subscriber.outbound).toEqual([]);
  });

  it('activates a subscription only when the callback echoes the challenge, with the lease clamped', async () => {
    const topic = `${ORIGIN}/feed.atom?country=SY`;
    const good = 'https://reader.example.com/verify-good';
    const id = await subscribe(good, topic, 'echo', { 'hub.lease_seconds': '1' });
    const [verification] = subscriber.verifications(good);
    expect(verification!.searchParams.get('hub.mode')).toBe('subscribe');
    expect(verification!.searchParams.get('hub.topic')).toBe(topic);
    expect(verification!.searchParams.get('hub.challenge')).toMatch(/^[0-9a-f]{64}$/);
    expect(verification!.searchParams.get('hub.lease_seconds')).toBe(String(WEBSUB_LIMITS.minLeaseSeconds));
    const active = (await coordinatorStub().listWebSub()).find((subscription) => subscription.id === id)!;
    expect(active).toMatchObject({ callback: good, topic, lease_seconds: WEBSUB_LIMITS.minLeaseSeconds, signed: false });

    const wrong = await subscribe('https://reader.example.com/verify-wrong', topic, 'wrong');
    const missing = await subscribe('https://reader.example.com/verify-404', topic, 'not_found');
    expect(await activeIds()).not.toContain(wrong);
    expect(await activeIds()).not.toContain(missing);
    // The verification GETs are the only requests made so far.
    expect(subscriber.outbound.every((request) => request.method === 'GET')).toBe(true);
  });

  it('pushes the topic\'s new feed, signed, once per matching write, and nothing after a write the topic does not match', async () => {
    await ingest([syria('websub-before')]);
    const topic = `${ORIGIN}/feed.atom?country=SY`;
    const callback = 'https://reader.example.com/push';
    const secret = 'a subscriber secret';
    await subscribe(callback, topic, 'echo', { 'hub.secret': secret });

    await ingest([syria('websub-pushed-1', '2025-04-01'), syria('websub-pushed-2', '2025-04-02')]);
    await vi.waitFor(() => expect(subscriber.for(callback).length).toBe(1), { timeout: 10_000 });
    const [pushed] = subscriber.for(callback);
    expect(pushed!.signatureValid).toBe(true);
    expect(pushed!.headers.get('content-type')).toBe('application/atom+xml; charset=utf-8');
    expect(pushed!.headers.get('link')).toBe(`<${ORIGIN}/websub>; rel="hub", <${topic}>; rel="self"`);
    expect(pushed!.body).toContain('websub-pushed-1');
    expect(pushed!.body).toContain('websub-pushed-2');
    expect(pushed!.body).toContain(`<link rel="self" href="${topic}"/>`);
    // The body is the feed as the topic URL serves it now.
    expect(pushed!.body).toBe(await (await call('/feed.atom?country=SY')).text());

    const iraq = makeEvent('websub-not-pushed', '2025-04-03');
    await ingest([iraq]);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(subscriber.for(callback).length).toBe(1);

    // The delivery log the webhooks use holds the distribution; the operator reads it over HTTP.
    const listed = await getJson<{ data: { id: string; callback: string; topic: string; signed: boolean; secret?: string }[] }>('/admin/websub', { headers: ADMIN });
    expect(listed.status).toBe(200);
    const mine = listed.body.data.filter((subscription) => subscription.callback === callback);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ topic, signed: true });
    expect(JSON.stringify(listed.body)).not.toContain('secret');
    const log = await getJson<{ data: { outcome: string; type: string }[] }>(`/admin/websub/${mine[0]!.id}/deliveries`, { headers: ADMIN });
    expect(log.status).toBe(200);
    expect(log.body.data.map((entry) => [entry.type, entry.outcome])).toEqual([['websub.notification', 'delivered']]);
    // Every POST went to a callback holding a verified subscription to a topic the write matched (storage is shared by this file's tests).
    const subscribed = new Set((await coordinatorStub().listWebSub()).filter((subscription) => subscription.topic === topic).map((subscription) => subscription.callback));
    const posted = subscriber.outbound.filter((request) => request.method === 'POST').map((request) => request.url.href);
    expect(posted.filter((url) => url === callback)).toEqual([callback]);
    expect(posted.every((url) => subscribed.has(url))).toBe(true);
  });

  it('hands a silent callback off: later pushes to others are not held up by its 10 s timeout, and its attempt is still logged', { timeout: 30_000 }, async () => {
    const topic = `${ORIGIN}/feed.json?country=SY`;
    const silent = 'https://silent.example.org/websub';
    const listener = 'https://listener.example.org/websub';
    const silentId = await subscribe(silent, topic, 'silent');
    await subscribe(listener, topic);
    await ingest([syria('websub-handoff-1', '2025-05-01')]);
    await vi.waitFor(() => expect(subscriber.for(listener)).toHaveLength(1), { timeout: 5_000 });
    const secondWrite = Date.now();
    await ingest([syria('websub-handoff-2', '2025-05-02')]);
    // Without the hand-off the batch holding the silent request waits out its 10 s timeout before the next batch runs.
    await vi.waitFor(() => expect(subscriber.for(listener)).toHaveLength(2), { timeout: 5_000 });
    expect(Date.now() - secondWrite).toBeLessThan(5_000);
    // The handed-off request timed out in the background and was recorded, to be retried by the outbox.
    await vi.waitFor(async () => {
      const log = await getJson<{ data: { outcome: string; error: string | null }[] }>(`/admin/websub/${silentId}/deliveries`, { headers: ADMIN });
      expect(log.body.data.map((entry) => entry.outcome)).toContain('retrying');
    }, { timeout: 20_000, interval: 500 });
  });

  it('pushes the feed a retracted record leaves, without it', async () => {
    const topic = `${ORIGIN}/feed.rss?country=SY`;
    const callback = 'https://reader.example.com/retractions';
    await subscribe(callback, topic);
    await ingest([syria('websub-to-retract', '2025-06-01')]);
    await vi.waitFor(() => expect(subscriber.for(callback).length).toBe(1), { timeout: 10_000 });
    expect(subscriber.for(callback)[0]!.body).toContain('websub-to-retract');
    const retracted = await call('/events/websub-to-retract', { method: 'DELETE', headers: { authorization: 'Bearer test-admin-token' } });
    expect(retracted.status).toBeLessThan(300);
    await vi.waitFor(() => expect(subscriber.for(callback).length).toBe(2), { timeout: 10_000 });
    expect(subscriber.for(callback)[1]!.body).not.toContain('websub-to-retract');
  });

  it('unsubscribes only after the callback confirms, and stops pushing', async () => {
    const topic = `${ORIGIN}/feed.json?country=SY`;
    const callback = 'https://reader.example.com/leaving';
    const id = await subscribe(callback, topic);
    subscriber.expect(callback, 'wrong');
    const refused = await hub({ 'hub.mode': 'unsubscribe', 'hub.topic': topic, 'hub.callback': callback });
    expect(refused.status).toBe(202);
    await vi.waitFor(() => expect(subscriber.verifications(callback).length).toBe(2));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await activeIds()).toContain(id);
    subscriber.expect(callback, 'echo');
    await hub({ 'hub.mode': 'unsubscribe', 'hub.topic': topic, 'hub.callback': callback });
    await vi.waitFor(async () => expect(await activeIds()).not.toContain(id), { timeout: 5_000 });
    const last = subscriber.verifications(callback).at(-1)!;
    expect(last.searchParams.get('hub.mode')).toBe('unsubscribe');
    expect(last.searchParams.has('hub.lease_seconds')).toBe(false);
    await ingest([syria('websub-after-unsubscribe', '2025-05-01')]);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(subscriber.for(callback)).toEqual([]);
  });

  it('drops a subscription when its lease ends (cron)', async () => {
    const callback = 'https://reader.example.com/lease';
    const id = await subscribe(callback, `${ORIGIN}/feed.rss`);
    const lease = (await coordinatorStub().listWebSub()).find((subscription) => subscription.id === id)!;
    await worker.scheduled(createScheduledController({ scheduledTime: new Date(Date.parse(lease.expires_at) - 60_000), cron: '*/5 * * * *' }), env);
    expect(await activeIds()).toContain(id);
    await worker.scheduled(createScheduledController({ scheduledTime: new Date(Date.parse(lease.expires_at) + 1_000), cron: '*/5 * * * *' }), env);
    expect(await activeIds()).not.toContain(id);
    await settled();
  });

  it('caps subscriptions per callback host and in total, and rate-limits requests per client IP', async () => {
    WEBSUB_LIMITS.perCallbackHost = 2;
    await subscribe('https://capped.example.com/1', `${ORIGIN}/feed.rss`);
    await subscribe('https://capped.example.com/2', `${ORIGIN}/feed.rss`);
    const third = await hub({ 'hub.mode': 'subscribe', 'hub.topic': `${ORIGIN}/feed.rss`, 'hub.callback': 'https://capped.example.com/3' });
    expect(third.status).toBe(403);
    expect(((await third.json()) as { error: { fields: { field: string }[] } }).error.fields.map((problem) => problem.field)).toEqual(['hub.callback']);
    // A renewal of an existing subscription still fits.
    expect((await hub({ 'hub.mode': 'subscribe', 'hub.topic': `${ORIGIN}/feed.rss`, 'hub.callback': 'https://capped.example.com/1' })).status).toBe(202);

    WEBSUB_LIMITS.total = (await activeIds()).length;
    const full = await hub({ 'hub.mode': 'subscribe', 'hub.topic': `${ORIGIN}/feed.rss`, 'hub.callback': 'https://another.example.com/cb' });
    expect(full.status).toBe(403);
    expect(subscriber.verifications('https://another.example.com/cb')).toEqual([]);

    // Filled between the request and its verification: denied per the spec.
    WEBSUB_LIMITS.total = (await activeIds()).length + 1;
    subscriber.expect('https://racer.example.com/a', 'echo');
    subscriber.expect('https://racer.example.com/b', 'echo');
    const [a, b] = await Promise.all(['a', 'b'].map((name) => hub({ 'hub.mode': 'subscribe', 'hub.topic': `${ORIGIN}/feed.rss`, 'hub.callback': `https://racer.example.com/${name}` })));
    expect([a!.status, b!.status]).toEqual([202, 202]);
    await vi.waitFor(() => expect(subscriber.denials.length).toBe(1), { timeout: 5_000 });
    expect(subscriber.denials[0]!.searchParams.get('hub.topic')).toBe(`${ORIGIN}/feed.rss`);
    expect(subscriber.denials[0]!.searchParams.get('hub.reason')).toMatch(/most/);

    const statuses: number[] = [];
    for (let n = 0; n <= WEBSUB_LIMITS.requestsPerWindow; n++) {
      const response = await hub({ 'hub.mode': 'unsubscribe', 'hub.topic': `${ORIGIN}/feed.rss`, 'hub.callback': 'https://nobody.example.com/cb' }, '203.0.113.77');
      statuses.push(response.status);
      if (response.status === 429) expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    expect(statuses.filter((status) => status === 202).length).toBeGreaterThanOrEqual(WEBSUB_LIMITS.requestsPerWindow - 1);
    expect(statuses.at(-1)).toBe(429);
    expect((await hub({ 'hub.mode': 'unsubscribe', 'hub.topic': `${ORIGIN}/feed.rss`, 'hub.callback': 'https://nobody.example.com/cb' }, '203.0.113.78')).status).toBe(202);
    await new Promise((resolve) => setTimeout(resolve, 300));
  });
});

describe('the WebSub admin routes', () => {
  it('need the admin token, name a bad id or limit, and 404 an unknown subscription', async () => {
    expect((await call('/admin/websub')).status).toBe(401);
    expect((await call('/admin/websub/ws_000000000000000000000000/deliveries')).status).toBe(401);
    const badId = await getJson<{ error: { fields: { field: string }[] } }>('/admin/websub/sub_1/deliveries', { headers: ADMIN });
    expect([badId.status, badId.body.error.fields.map((problem) => problem.field)]).toEqual([400, ['id']]);
    const badLimit = await getJson<{ error: { fields: { field: string }[] } }>('/admin/websub/ws_000000000000000000000000/deliveries?limit=0', { headers: ADMIN });
    expect([badLimit.status, badLimit.body.error.fields.map((problem) => problem.field)]).toEqual([400, ['limit']]);
    const unknown = await getJson<{ error: { code: string; fields: { field: string }[] } }>('/admin/websub/ws_000000000000000000000000/deliveries', { headers: ADMIN });
    expect([unknown.status, unknown.body.error.code, unknown.body.error.fields.map((problem) => problem.field)]).toEqual([404, 'not_found', ['id']]);
  });
});
