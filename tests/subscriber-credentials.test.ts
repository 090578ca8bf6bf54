/**
 * A subscriber's own credentials: rotating the signing secret with a grace
 * period during which deliveries carry both signatures (each verified alone
 * with the `standardwebhooks` package), and the scoped token that manages
 * its own subscription and nothing else.
 */
import { Webhook } from 'standardwebhooks';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_ROTATION_GRACE_SECONDS, rotated, signingSecrets } from '../functions/domain/subscriber-credentials.ts';
import { call, getJson } from './helpers.ts';

const ADMIN = { authorization: 'Bearer test-admin-token', 'content-type': 'application/json' };
const bearer = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });

/** Every webhook request the Worker made: its URL, headers and raw body. */
let requests: { url: string; headers: Record<string, string>; body: string }[];

beforeEach(() => {
  requests = [];
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
    const request = new Request(input, init);
    requests.push({ url: request.url, headers: Object.fromEntries(request.headers), body: await request.text() });
    return new Response(null, { status: 204 });
  });
});

afterEach(() => vi.restoreAllMocks());

interface Created {
  id: string;
  secret: string;
  token: string;
}

async function subscribe(url: string): Promise<Created> {
  const response = await call('/subscriptions', { method: 'POST', headers: ADMIN, body: JSON.stringify({ url }) });
  expect(response.status).toBe(201);
  return (await response.json()) as Created;
}

/** Pings the subscription and returns the request that reached its URL. */
async function pingOnce(created: Created, url: string, headers = ADMIN): Promise<{ headers: Record<string, string>; body: string }> {
  const before = requests.filter((request) => request.url === url).length;
  expect((await call(`/subscriptions/${created.id}/test`, { method: 'POST', headers })).status).toBe(202);
  await vi.waitFor(() => expect(requests.filter((request) => request.url === url).length).toBe(before + 1), { timeout: 10_000, interval: 50 });
  return requests.filter((request) => request.url === url).at(-1)!;
}

const verifies = (secret: string, request: { headers: Record<string, string>; body: string }): boolean => {
  try {
    new Webhook(secret).verify(request.body, request.headers);
    return true;
  } catch {
    return false;
  }
};

const rotate = (id: string, body?: unknown, headers = ADMIN) => call(`/subscriptions/${id}/rotate-secret`, { method: 'POST', headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

describe('secret rotation', () => {
  it('signs with both secrets during the default 24 h grace, each verifying alone', async () => {
    const url = 'https://hooks.example.com/rotating';
    const created = await subscribe(url);
    const started = Date.now();
    const response = await rotate(created.id);
    expect(response.status).toBe(200);
    const rotation = (await response.json()) as { secret: string; previous_secret_expires_at: string };
    expect(rotation.secret).toMatch(/^whsec_/);
    expect(rotation.secret).not.toBe(created.secret);
    expect(Date.parse(rotation.previous_secret_expires_at) - started).toBeGreaterThanOrEqual(DEFAULT_ROTATION_GRACE_SECONDS * 1_000 - 5_000);

    const delivery = await pingOnce(created, url);
    expect(delivery.headers['webhook-signature']!.split(' ')).toHaveLength(2);
    expect(verifies(created.secret, delivery)).toBe(true);
    expect(verifies(rotation.secret, delivery)).toBe(true);
    expect(verifies('whsec_' + btoa('some-other-secret-of-32-bytes!!!'), delivery)).toBe(false);

    // Secrets are never shown again.
    const shown = await getJson(`/subscriptions/${created.id}`, { headers: ADMIN });
    expect(shown.body.previous_secret_expires_at).toBe(rotation.previous_secret_expires_at);
    expect(JSON.stringify(shown.body)).not.toContain(created.secret.slice(6));
    expect(JSON.stringify(shown.body)).not.toContain(rotation.secret.slice(6));
  });

  it('drops the old secret at once with grace_seconds 0, and after a short grace once it ends', async () => {
    const url = 'https://hooks.example.com/rotating-now';
    const created = await subscribe(url);
    const now = (await (await rotate(created.id, { grace_seconds: 0 })).json()) as { secret: string; previous_secret_expires_at: string | null };
    expect(now.previous_secret_expires_at).toBeNull();
    const first = await pingOnce(created, url);
    expect(verifies(now.secret, first)).toBe(true);
    expect(verifies(created.secret, first)).toBe(false);

    const brief = (await (await rotate(created.id, { grace_seconds: 1 })).json()) as { secret: string };
    expect(verifies(now.secret, await pingOnce(created, url))).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    const after = await pingOnce(created, url);
    expect(after.headers['webhook-signature']!.split(' ')).toHaveLength(1);
    expect(verifies(brief.secret, after)).toBe(true);
    expect(verifies(now.secret, after)).toBe(false);
  });

  it('refuses a bad grace period with a 400 naming the field, and changes nothing', async () => {
    const url = 'https://hooks.example.com/rotating-refused';
    const created = await subscribe(url);
    for (const body of [{ grace_seconds: -1 }, { grace_seconds: 1.5 }, { grace_seconds: 'soon' }, { grace_seconds: 8 * 86_400 }]) {
      const response = await rotate(created.id, body);
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: { fields: { field: string }[] } }).error.fields.map((field) => field.field)).toContain('grace_seconds');
    }
    const unknown = await rotate(created.id, { grace: 10 });
    expect(unknown.status).toBe(400);
    const notJson = await call(`/subscriptions/${created.id}/rotate-secret`, { method: 'POST', headers: ADMIN, body: '{' });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: { fields: { field: string }[] } }).error.fields[0]!.field).toBe('body');
    // Still signed with the original secret alone.
    const delivery = await pingOnce(created, url);
    expect(verifies(created.secret, delivery)).toBe(true);
    expect(delivery.headers['webhook-signature']!.split(' ')).toHaveLength(1);
  });

  it('keeps only the secret being replaced when a rotation comes during another one\'s grace', () => {
    const now = new Date('2026-01-01T00:00:00Z');
    const once = rotated({ secret: 'whsec_a', previous_secret: null, previous_secret_expires_at: null }, 'whsec_b', 60, now);
    const twice = rotated(once, 'whsec_c', 60, now);
    expect(signingSecrets(twice, now)).toEqual(['whsec_c', 'whsec_b']);
    expect(signingSecrets(twice, new Date(now.getTime() + 61_000))).toEqual(['whsec_c']);
  });
});

describe('scoped subscription tokens', () => {
  it('manage their own subscription and nothing else', async () => {
    const mine = await subscribe('https://hooks.example.com/scoped-mine');
    const theirs = await subscribe('https://hooks.example.com/scoped-theirs');
    expect(mine.token).toMatch(/^swt_[A-Za-z0-9_-]{43}$/);
    const own = bearer(mine.token);

    expect((await call(`/subscriptions/${mine.id}`, { headers: own })).status).toBe(200);
    expect((await call(`/subscriptions/${mine.id}/deliveries`, { headers: own })).status).toBe(200);
    expect((await rotate(mine.id, { grace_seconds: 60 }, own)).status).toBe(200);
    await pingOnce(mine, 'https://hooks.example.com/scoped-mine', own);

    for (const [path, method] of [[`/subscriptions/${theirs.id}`, 'GET'], [`/subscriptions/${theirs.id}/rotate-secret`, 'POST'], [`/subscriptions/${theirs.id}`, 'DELETE'], ['/subscriptions', 'GET']] as const) {
      const response = await call(path, { method, headers: own });
      expect(response.status, `${method} ${path}`).toBe(401);
      expect(((await response.json()) as { error: { fields: { field: string }[] } }).error.fields[0]!.field).toBe('authorization');
    }
    const create = await call('/subscriptions', { method: 'POST', headers: own, body: JSON.stringify({ url: 'https://hooks.example.com/not-allowed' }) });
    expect(create.status).toBe(401);
    expect((await call('/events', { method: 'POST', headers: own, body: '{}' })).status).toBe(401);

    // The token is shown once: never in a read.
    const listed = await getJson('/subscriptions', { headers: ADMIN });
    expect(JSON.stringify(listed.body)).not.toContain(mine.token);
    expect(JSON.stringify(listed.body)).not.toContain('token');

    // A new token replaces the old one.
    const renewed = (await (await call(`/subscriptions/${mine.id}/rotate-token`, { method: 'POST', headers: own })).json()) as { token: string };
    expect(renewed.token).not.toBe(mine.token);
    expect((await call(`/subscriptions/${mine.id}`, { headers: own })).status).toBe(401);
    expect((await call(`/subscriptions/${mine.id}`, { headers: bearer(renewed.token) })).status).toBe(200);
    expect((await call(`/subscriptions/${mine.id}`, { method: 'DELETE', headers: bearer(renewed.token) })).status).toBe(204);
    expect((await call(`/subscriptions/${theirs.id}`, { headers: ADMIN })).status).toBe(200);
  });
});
