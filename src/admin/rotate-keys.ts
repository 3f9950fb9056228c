import { ConfigError, loadConfig } from '../config.js';
import { systemClock } from '../domain/clock.js';
import { connectConfiguredRedis } from '../store/redis/connection.js';
import { SealedBox } from '../tokens/sealed-box.js';
import { rotateKeyring } from '../tokens/shared-keys.js';

/**
 * `devicegate rotate-keys`: adds a new signing key to the keyring shared through Redis. It is
 * published at once and signs after key_rotation.activation_delay; the key it replaces stays
 * published until access_token_ttl + clock_skew after that. Reads the server's own environment
 * (REDIS_URL, DEVICEGATE_SECRET, DEVICEGATE_CONFIG). Prints one JSON line; exit 0 when rotated,
 * 6 when a rotation is already pending, 78 for configuration errors.
 */
export async function rotateKeys(env: NodeJS.ProcessEnv, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(env);
    if ((!config.redisUrl && !config.redisClusterNodes?.length) || !config.secret) {
      throw new ConfigError(
        'REDIS_URL: rotate-keys rotates the key set instances share through Redis; without Redis, rotate by editing tokens.jwks_path',
      );
    }
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    err.write(`devicegate rotate-keys: ${error.message}\n`);
    return 78;
  }
  const redis = await connectConfiguredRedis(config);
  try {
    const rotation = config.file.key_rotation;
    const outcome = await rotateKeyring(
      { redis, keyPrefix: 'devicegate:', box: new SealedBox(config.secret) },
      {
        activationDelayMs: rotation.activation_delay * 1000,
        retireAfterActivationMs: (config.file.tokens.access_token_ttl + rotation.clock_skew) * 1000,
      },
      systemClock.now(),
    );
    const iso = (ms: number) => new Date(ms).toISOString();
    if (outcome.kind === 'rotated') {
      out.write(
        `${JSON.stringify({
          rotated: true,
          kid: outcome.kid,
          published_at: iso(systemClock.now()),
          signs_from: iso(outcome.activatesAt),
          retiring: outcome.retiring.map((key) => ({ kid: key.kid, unpublished_at: iso(key.retiresAt) })),
        })}\n`,
      );
      return 0;
    }
    if (outcome.kind === 'pending') {
      err.write(`devicegate rotate-keys: key ${outcome.kid} is already waiting to sign from ${iso(outcome.activatesAt)}; rotate again after that\n`);
      return 6;
    }
    return 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      err.write(`devicegate rotate-keys: ${error.message}\n`);
      return 78;
    }
    throw error;
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
}
