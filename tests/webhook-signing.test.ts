/**
 * Webhook signing: the Standard Webhooks reference vector, verification by
 * the `standardwebhooks` package a receiver would use, envelopes and
 * deterministic message ids.
 */
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import {
  buildEnvelope,
  generateSecret,
  SECRET_BYTES,
  webhookSigner,
  webhookMessageId,
  type HeadersInput,
  type MessageSubject,
  type SignInput,
} from '../functions/domain/webhook-signing.ts';
import { makeEvent } from './helpers.ts';

/** The fixed vector of the reference library's "sign function works" test. */
const REFERENCE = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  msgId: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** The headers of one delivery, from a signer of its own. */
const webhookHeaders = (input: HeadersInput) => webhookSigner()(input);
/** The signature of one delivery signed with one secret. */
const signPayload = async (input: SignInput): Promise<string> => (await webhookHeaders(input))['webhook-signature'];

describe('generateSecret', () => {
  it('is whsec_ + base64 of the random bytes given', () => {
    const bytes = Uint8Array.from({ length: SECRET_BYTES }, (_, index) => index);
    expect(generateSecret(bytes)).toBe('whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=');
  });

  it('draws fresh random bytes when none are given', () => {
    const first = generateSecret();
    const second = generateSecret();
    expect(first).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(first).not.toBe(second);
    expect(Uint8Array.from(atob(first.slice(6)), (char) => char.charCodeAt(0))).toHaveLength(SECRET_BYTES);
  });

  it('refuses a random buffer of the wrong size', () => {
    expect(() => generateSecret(new Uint8Array(16))).toThrow(RangeError);
  });
});

describe('signatures', () => {
  it('reproduces the reference test vector, with and without the whsec_ prefix', async () => {
    expect(await signPayload(REFERENCE)).toBe(REFERENCE.signature);
    expect(await signPayload({ ...REFERENCE, secret: REFERENCE.secret.slice('whsec_'.length) })).toBe(REFERENCE.signature);
  });

  it('takes the timestamp as a Date, dropping milliseconds', async () => {
    expect(await signPayload({ ...REFERENCE, timestamp: new Date(REFERENCE.timestamp * 1000 + 999) })).toBe(REFERENCE.signature);
  });

  it('changes with every signed part', async () => {
    const variants = [{ msgId: 'msg_other' }, { timestamp: REFERENCE.timestamp + 1 }, { body: '{"test": 2432232315}' }, { secret: generateSecret() }];
    for (const variant of variants) expect(await signPayload({ ...REFERENCE, ...variant }), JSON.stringify(variant)).not.toBe(REFERENCE.signature);
  });

  it('rejects secrets that are not base64 or are empty, and fractional or negative timestamps', async () => {
    await expect(signPayload({ ...REFERENCE, secret: 'whsec_not base64!' })).rejects.toThrow(/base64/);
    await expect(signPayload({ ...REFERENCE, secret: 'whsec_' })).rejects.toThrow(/empty/);
    await expect(signPayload({ ...REFERENCE, timestamp: 1.5 })).rejects.toThrow(RangeError);
    await expect(signPayload({ ...REFERENCE, timestamp: -1 })).rejects.toThrow(RangeError);
  });
});

describe('delivery headers', () => {
  it('gives the three webhook headers and the JSON content type', async () => {
    expect(await webhookHeaders(REFERENCE)).toEqual({
      'content-type': 'application/json',
      'webhook-id': REFERENCE.msgId,
      'webhook-timestamp': String(REFERENCE.timestamp),
      'webhook-signature': REFERENCE.signature,
    });
  });

  it('passes verification by the standardwebhooks package', async () => {
    const secret = generateSecret();
    const envelope = buildEnvelope('event.created', makeEvent('verified-event', '2024-01-28'), new Date());
    const body = JSON.stringify(envelope);
    const headers = await webhookHeaders({ secret, msgId: 'msg_verified', timestamp: new Date(), body });
    expect(new Webhook(secret).verify(body, { ...headers })).toEqual(envelope);
  });

  it('fails verification for a tampered body, a wrong secret or a stale timestamp', async () => {
    const secret = generateSecret();
    const body = JSON.stringify(buildEnvelope('ping', { subscription_id: 'sub_1' }, new Date()));
    const fresh = { ...(await webhookHeaders({ secret, msgId: 'msg_1', timestamp: nowSeconds(), body })) };
    const stale = { ...(await webhookHeaders({ secret, msgId: 'msg_1', timestamp: nowSeconds() - 6 * 60, body })) };
    const verifier = new Webhook(secret);
    expect(() => verifier.verify(body, fresh)).not.toThrow();
    expect(() => verifier.verify(body.replace('sub_1', 'sub_2'), fresh)).toThrow(WebhookVerificationError);
    expect(() => new Webhook(generateSecret()).verify(body, fresh)).toThrow(WebhookVerificationError);
    expect(() => verifier.verify(body, stale)).toThrow(/too old/);
  });

  it('signs with every secret during a rotation, so either verifies', async () => {
    const [previous, next] = [generateSecret(), generateSecret()];
    const body = '{"type":"ping"}';
    const headers = { ...(await webhookHeaders({ secret: [previous, next], msgId: 'msg_rotating', timestamp: nowSeconds(), body })) };
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(() => new Webhook(previous).verify(body, headers)).not.toThrow();
    expect(() => new Webhook(next).verify(body, headers)).not.toThrow();
    await expect(webhookHeaders({ secret: [], msgId: 'msg_none', timestamp: nowSeconds(), body })).rejects.toThrow(/at least one secret/);
  });
});

describe('webhookSigner', () => {
  it('signs many deliveries with keys it imported once, each signature as webhookHeaders makes it', async () => {
    const sign = webhookSigner();
    const other = generateSecret();
    // Alternating secrets: a key kept for one secret must never sign for another.
    for (let i = 0; i < 3; i++) {
      expect((await sign(REFERENCE))['webhook-signature']).toBe(REFERENCE.signature);
      const input = { secret: [other, REFERENCE.secret], msgId: `msg_${i}`, timestamp: REFERENCE.timestamp, body: `{"n":${i}}` };
      expect(await sign(input)).toEqual(await webhookHeaders(input));
    }
  });
});

describe('buildEnvelope', () => {
  it('wraps data with its type and the ISO time of the change', () => {
    const event = makeEvent('enveloped', '2024-01-28');
    const at = new Date(Date.UTC(2024, 0, 28, 12, 30));
    expect(buildEnvelope('event.updated', event, at)).toEqual({ type: 'event.updated', timestamp: '2024-01-28T12:30:00.000Z', data: event });
    expect(buildEnvelope('ping', { subscription_id: 'sub_9' }, at)).toEqual({ type: 'ping', timestamp: '2024-01-28T12:30:00.000Z', data: { subscription_id: 'sub_9' } });
  });
});

describe('webhookMessageId', () => {
  const subject: MessageSubject = { subscriptionId: 'sub_1', type: 'event.created', recordId: 'erbil-attack', revision: 1 };

  it('is msg_ and 32 hex digits, the same for the same message', async () => {
    const id = await webhookMessageId(subject);
    expect(id).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(await webhookMessageId({ ...subject })).toBe(id);
  });

  it('differs when subscription, record, revision or type differ', async () => {
    const variants: MessageSubject[] = [
      { ...subject, subscriptionId: 'sub_2' },
      { ...subject, recordId: 'erbil-attack-2' },
      { ...subject, revision: 2 },
      { ...subject, type: 'event.updated' },
    ];
    const ids = await Promise.all([subject, ...variants].map(webhookMessageId));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('does not confuse parts that run together', async () => {
    const joined = await webhookMessageId({ ...subject, subscriptionId: 'sub_1.erbil', recordId: 'attack' });
    expect(joined).not.toBe(await webhookMessageId({ ...subject, subscriptionId: 'sub_1', recordId: 'erbil.attack' }));
  });

  it('names a ping by its subscription and request time', async () => {
    const requestedAt = new Date(Date.UTC(2024, 0, 28));
    const ping = await webhookMessageId({ subscriptionId: 'sub_1', type: 'ping', requestedAt });
    expect(await webhookMessageId({ subscriptionId: 'sub_1', type: 'ping', requestedAt: new Date(requestedAt) })).toBe(ping);
    expect(await webhookMessageId({ subscriptionId: 'sub_1', type: 'ping', requestedAt: new Date(requestedAt.getTime() + 1) })).not.toBe(ping);
  });
});
