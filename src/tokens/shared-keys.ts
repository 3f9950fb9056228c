import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../store/redis/connection.js';
import { keyringKey, sessionKeyKey } from '../store/redis/key-names.js';
import type { CryptoKey } from 'jose';
import { ConfigError, type KeyRotationConfig } from '../config.js';
import type { Clock } from '../domain/clock.js';
import {
  generateSigningKeyJwk,
  type PrivateSigningJwk,
  type PublicSigningJwk,
  SIGNING_ALG,
  type SigningKeys,
  signingKeysFromJwks,
} from './signing-keys.js';
import type { SealedBox } from './sealed-box.js';

/**
 * Signing keys and the session-cookie key shared by every instance on one Redis.
 *
 * Redis layout (both written once with SET NX, so the first instance to start creates them and
 * every other one reads the same):
 * - `<prefix>keyring`: JSON `{"version": n, "keys": [KeyringEntry…]}`, private halves sealed with
 *   DEVICEGATE_SECRET (src/tokens/sealed-box.ts). Rotations replace it by compare-and-set (one Lua
 *   call), so two rotating instances cannot both add a key.
 * - `<prefix>session_key`: the sealed 32-byte HMAC key of the verification pages' cookies.
 *
 * Rotation schedule (all times ms since the epoch, on the instance's clock):
 * - a new key is published at once and signs from `activates_at` = now + activation_delay, so every
 *   instance (re-reading every refresh_interval ≤ activation_delay) and every resource server has it
 *   before the first token it signs;
 * - the key it replaces keeps signing until then and stays published until `retires_at` =
 *   activates_at + access_token_ttl + clock_skew: the last token it signed has expired by then.
 */
export interface KeyringEntry {
  readonly kid: string;
  readonly public: PublicSigningJwk;
  /** The private JWK (`d` included), sealed under the slot `signing-key:<kid>`. */
  readonly sealed: string;
  readonly created_at: number;
  readonly activates_at: number;
  /** Removed from the JWKS (and from the keyring at the next rotation) from this instant; null: current. */
  readonly retires_at: number | null;
}

export interface KeyringDocument {
  readonly version: number;
  readonly keys: readonly KeyringEntry[];
}

export interface SharedStateLocation {
  readonly redis: RedisClient;
  /** The key prefix of the deployment (`devicegate:` unless tests give each server its own). */
  readonly keyPrefix: string;
  readonly box: SealedBox;
}

const signingSlot = (kid: string) => `signing-key:${kid}`;
const SESSION_SLOT = 'session-key';

/** Compare-and-set: replace the keyring only if nobody changed it since it was read. */
const COMPARE_AND_SET = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  return 1
end
return 0`;

async function sealedEntry(box: SealedBox, now: number, activatesAt: number): Promise<KeyringEntry> {
  const jwk = await generateSigningKeyJwk();
  const { d: _private, ...publicJwk } = jwk;
  return {
    kid: jwk.kid,
    public: publicJwk,
    sealed: box.seal(JSON.stringify(jwk), signingSlot(jwk.kid)),
    created_at: now,
    activates_at: activatesAt,
    retires_at: null,
  };
}

function parseKeyring(text: string, where: string): KeyringDocument {
  try {
    const parsed = JSON.parse(text) as KeyringDocument;
    if (typeof parsed.version === 'number' && Array.isArray(parsed.keys) && parsed.keys.length > 0) return parsed;
  } catch {
    // fall through
  }
  throw new ConfigError(`${where}: not a devicegate keyring`);
}

/** Reads the keyring, creating it (one key, active at once) when this is the first instance. */
export async function ensureKeyring(location: SharedStateLocation, now: number): Promise<string> {
  const key = keyringKey(location.keyPrefix);
  const existing = await location.redis.get(key);
  if (existing !== null) return existing;
  const first: KeyringDocument = { version: 1, keys: [await sealedEntry(location.box, now, now)] };
  // NX: when instances start together exactly one document is stored; the others read it.
  await location.redis.set(key, JSON.stringify(first), 'NX');
  const stored = await location.redis.get(key);
  if (stored === null) throw new Error(`${key} vanished just after it was created`);
  return stored;
}

/** The session-cookie key every instance shares: created once (SET NX), sealed under the secret. */
export async function ensureSharedSessionKey(location: SharedStateLocation): Promise<Buffer> {
  const key = sessionKeyKey(location.keyPrefix);
  await location.redis.set(key, location.box.seal(randomBytes(32).toString('base64url'), SESSION_SLOT), 'NX');
  const sealed = await location.redis.get(key);
  const opened = sealed === null ? null : location.box.open(sealed, SESSION_SLOT);
  if (opened === null) throw wrongSecret(key);
  return Buffer.from(opened, 'base64url');
}

export type RotationOutcome =
  | { readonly kind: 'rotated'; readonly kid: string; readonly activatesAt: number; readonly retiring: readonly { kid: string; retiresAt: number }[] }
  | { readonly kind: 'pending'; readonly kid: string; readonly activatesAt: number }
  | { readonly kind: 'not_due' };

/**
 * Adds a new signing key (published now, signing after activation_delay) and schedules the current
 * one's retirement; prunes keys already retired. Refuses while a previous rotation is still pending
 * (its key not yet signing). With `onlyIfOlderThanMs`, rotates only when the signing key is at least
 * that old (automatic rotation: many instances may try, the compare-and-set lets one win).
 */
export async function rotateKeyring(
  location: SharedStateLocation,
  policy: { readonly activationDelayMs: number; readonly retireAfterActivationMs: number },
  now: number,
  options: { onlyIfOlderThanMs?: number } = {},
): Promise<RotationOutcome> {
  const key = keyringKey(location.keyPrefix);
  for (;;) {
    const before = await ensureKeyring(location, now);
    const document = parseKeyring(before, key);
    const pending = document.keys.find((entry) => entry.activates_at > now);
    if (pending) {
      return options.onlyIfOlderThanMs === undefined ? { kind: 'pending', kid: pending.kid, activatesAt: pending.activates_at } : { kind: 'not_due' };
    }
    const signing = signingEntry(document.keys, now);
    if (options.onlyIfOlderThanMs !== undefined && signing && now - signing.activates_at < options.onlyIfOlderThanMs) {
      return { kind: 'not_due' };
    }
    const activatesAt = now + policy.activationDelayMs;
    const retiresAt = activatesAt + policy.retireAfterActivationMs;
    const fresh = await sealedEntry(location.box, now, activatesAt);
    const kept = document.keys
      .filter((entry) => entry.retires_at === null || entry.retires_at > now)
      .map((entry) => (entry.retires_at === null ? { ...entry, retires_at: retiresAt } : entry));
    const next: KeyringDocument = { version: document.version + 1, keys: [fresh, ...kept] };
    const swapped = await location.redis.eval(COMPARE_AND_SET, 1, key, before, JSON.stringify(next));
    if (swapped === 1) {
      return {
        kind: 'rotated',
        kid: fresh.kid,
        activatesAt,
        retiring: kept.filter((entry) => entry.retires_at !== null).map((entry) => ({ kid: entry.kid, retiresAt: entry.retires_at! })),
      };
    }
    // Another instance changed the keyring meanwhile: read it again and decide afresh.
  }
}

/**
 * The key that signs at `now`: the most recently activated one among those active and not retired.
 * When none is active yet on this instance's clock (it runs a little behind the instance that created
 * the keyring), the earliest one: a key must always sign, and it is published everywhere already.
 */
function signingEntry(keys: readonly KeyringEntry[], now: number): KeyringEntry | undefined {
  const live = keys.filter((entry) => entry.retires_at === null || entry.retires_at > now);
  const active = live.filter((entry) => entry.activates_at <= now).sort((a, b) => b.activates_at - a.activates_at);
  return active[0] ?? [...live].sort((a, b) => a.activates_at - b.activates_at)[0];
}

function wrongSecret(key: string): ConfigError {
  return new ConfigError(
    `DEVICEGATE_SECRET: does not decrypt ${key} in Redis; every instance on one Redis needs the same secret`,
  );
}

export interface KeyringFollowerOptions extends SharedStateLocation {
  readonly clock: Clock;
  readonly rotation: KeyRotationConfig;
  readonly accessTokenTtlSeconds: number;
  /** Logs a rotation it performed, a key it saw appear, or a failed re-read (Redis down: the last view stays). */
  readonly log?: (event: { event: string } & Record<string, unknown>, message: string) => void;
}

/**
 * One instance's view of the shared keyring: re-read every `refresh_interval` seconds (the bound
 * within which every instance follows a rotation), keys decrypted and imported once per kid. Which
 * key signs and which are published is worked out from the clock on each call, so a key activates
 * on time even between re-reads.
 */
export class KeyringFollower {
  private document!: KeyringDocument;
  private text = '';
  private readonly imported = new Map<string, CryptoKey>();
  private view: { computedFor: string; validUntil: number; keys: SigningKeys } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private refreshFailing = false;

  private constructor(private readonly options: KeyringFollowerOptions) {}

  /** Reads (or creates) the keyring; a secret that cannot open it stops start-up with a ConfigError. */
  static async start(options: KeyringFollowerOptions): Promise<KeyringFollower> {
    const follower = new KeyringFollower(options);
    await follower.load(await ensureKeyring(options, options.clock.now()));
    follower.timer = setInterval(() => void follower.refresh(), options.rotation.refresh_interval * 1000);
    follower.timer.unref();
    return follower;
  }

  /** The keys as of now: the one that signs and every published one (the signing key first). */
  current(): SigningKeys {
    const now = this.options.clock.now();
    if (this.view && this.view.computedFor === this.text && now < this.view.validUntil) return this.view.keys;
    const published = this.document.keys.filter((entry) => entry.retires_at === null || entry.retires_at > now);
    const signing = signingEntry(this.document.keys, now);
    if (!signing) throw new Error('the shared keyring has no key active now');
    const ordered = [signing, ...published.filter((entry) => entry.kid !== signing.kid)];
    const keys: SigningKeys = Object.freeze({
      signing: Object.freeze({ kid: signing.kid, alg: SIGNING_ALG, privateKey: this.imported.get(signing.kid)! }),
      publicJwks: Object.freeze({ keys: Object.freeze(ordered.map((entry) => Object.freeze({ ...entry.public }))) }),
      toJSON: () => ({ keys: ordered.map((entry) => entry.public) }),
    });
    // The view changes next when a key activates or retires.
    const changes = this.document.keys
      .flatMap((entry) => [entry.activates_at, entry.retires_at ?? Number.POSITIVE_INFINITY])
      .filter((at) => at > now);
    this.view = { computedFor: this.text, validUntil: Math.min(Number.POSITIVE_INFINITY, ...changes), keys };
    return keys;
  }

  /** When the key that signs now was created (ms since the epoch), for the key-age metric. */
  signingKeyCreatedAt(): number | null {
    return signingEntry(this.document.keys, this.options.clock.now())?.created_at ?? null;
  }

  /** Re-reads the keyring now (also what the timer does); rotates first when automatic rotation is due. */
  async refresh(): Promise<void> {
    const { redis, keyPrefix, rotation, clock } = this.options;
    try {
      if (rotation.rotate_after > 0) {
        const outcome = await rotateKeyring(this.options, this.rotationPolicy(), clock.now(), {
          onlyIfOlderThanMs: rotation.rotate_after * 1000,
        });
        if (outcome.kind === 'rotated') this.options.log?.({ event: 'key_rotation', kid: outcome.kid, activates_at: outcome.activatesAt }, 'signing key rotated (automatic)');
      }
      const text = await redis.get(keyringKey(keyPrefix));
      if (text !== null && text !== this.text) await this.load(text);
      if (this.refreshFailing) this.options.log?.({ event: 'keyring_refresh_recovered' }, 'shared keyring readable again');
      this.refreshFailing = false;
    } catch (error) {
      // Keep signing with the last view: a Redis outage must not take the keys away.
      if (!this.refreshFailing) this.options.log?.({ event: 'keyring_refresh_failed', err: describe(error) }, 'cannot re-read the shared keyring');
      this.refreshFailing = true;
    }
  }

  rotationPolicy() {
    const { rotation, accessTokenTtlSeconds } = this.options;
    return {
      activationDelayMs: rotation.activation_delay * 1000,
      retireAfterActivationMs: (accessTokenTtlSeconds + rotation.clock_skew) * 1000,
    };
  }

  close(): void {
    clearInterval(this.timer);
  }

  private async load(text: string): Promise<void> {
    const where = keyringKey(this.options.keyPrefix);
    const document = parseKeyring(text, where);
    for (const entry of document.keys) {
      if (this.imported.has(entry.kid)) continue;
      const opened = this.options.box.open(entry.sealed, signingSlot(entry.kid));
      if (opened === null) throw wrongSecret(where);
      const jwk = JSON.parse(opened) as PrivateSigningJwk;
      const loaded = await signingKeysFromJwks({ keys: [jwk] }, `${where} kid ${entry.kid}`);
      this.imported.set(entry.kid, loaded.signing.privateKey);
      if (this.text !== '') this.options.log?.({ event: 'key_published', kid: entry.kid, activates_at: entry.activates_at }, 'new signing key seen');
    }
    this.document = document;
    this.text = text;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.name : 'error';
}
