/**
 * A subscriber's credentials besides the admin token: the signing secrets of
 * its subscription during a rotation, and the scoped access token that
 * manages only that subscription. Pure: time and random bytes come in as
 * arguments (Web Crypto only hashes).
 */
import * as v from 'valibot';
import { sha256Hex } from './digest.ts';

/** How long, by default, deliveries stay signed with the old secret too after a rotation: 24 h. */
export const DEFAULT_ROTATION_GRACE_SECONDS = 86_400;
/** The longest grace period a rotation may ask for: 7 days. */
export const MAX_ROTATION_GRACE_SECONDS = 7 * 86_400;

/** `POST /subscriptions/:id/rotate-secret` body (optional): how long the old secret keeps signing. */
export const RotateSecretSchema = v.strictObject({
  grace_seconds: v.optional(
    v.pipe(
      v.number('must be a number of seconds'),
      v.integer('must be a whole number of seconds'),
      v.minValue(0, 'must be at least 0'),
      v.maxValue(MAX_ROTATION_GRACE_SECONDS, `must be at most ${MAX_ROTATION_GRACE_SECONDS} (7 days)`),
    ),
    DEFAULT_ROTATION_GRACE_SECONDS,
  ),
});

/** A rotation request, defaults applied. */
export type RotateSecret = v.InferOutput<typeof RotateSecretSchema>;

/** A subscription's signing secrets as stored: the current one, and the one it replaced while that one's grace lasts. */
export interface StoredSecrets {
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: string | null;
}

/** The secrets deliveries are signed with at `now`: the current one first, then the previous one while its grace lasts. */
export function signingSecrets(stored: StoredSecrets, now: Date): string[] {
  return previousSecretLasts(stored, now) ? [stored.secret, stored.previous_secret!] : [stored.secret];
}

/** Whether the replaced secret still signs deliveries at `now`. */
export function previousSecretLasts(stored: StoredSecrets, now: Date): boolean {
  return stored.previous_secret !== null && stored.previous_secret_expires_at !== null && Date.parse(stored.previous_secret_expires_at) > now.getTime();
}

/**
 * The stored secrets after a rotation at `now` to `newSecret`: the current
 * secret becomes the previous one for `graceSeconds` (none when 0). A
 * rotation during another's grace ends that grace: only the secret being
 * replaced keeps signing.
 */
export function rotated(stored: StoredSecrets, newSecret: string, graceSeconds: number, now: Date): StoredSecrets {
  if (graceSeconds === 0) return { secret: newSecret, previous_secret: null, previous_secret_expires_at: null };
  return { secret: newSecret, previous_secret: stored.secret, previous_secret_expires_at: new Date(now.getTime() + graceSeconds * 1_000).toISOString() };
}

/** Prefix of every scoped subscription token, so one is never mistaken for the admin token. */
export const SCOPED_TOKEN_PREFIX = 'swt_';
/** Random bytes in a scoped token (256 bits). */
const SCOPED_TOKEN_BYTES = 32;

/** A new scoped token: `swt_` + base64url of 32 random bytes. Pass `random` to make it reproducible. */
export function generateScopedToken(random: Uint8Array = crypto.getRandomValues(new Uint8Array(SCOPED_TOKEN_BYTES))): string {
  if (random.length !== SCOPED_TOKEN_BYTES) throw new RangeError(`a token needs ${SCOPED_TOKEN_BYTES} random bytes, got ${random.length}`);
  let binary = '';
  for (const byte of random) binary += String.fromCharCode(byte);
  return SCOPED_TOKEN_PREFIX + btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** What is stored of a scoped token: its SHA-256, never the token itself. */
export const scopedTokenDigest = (token: string): Promise<string> => sha256Hex(token);
