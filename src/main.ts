import { pino } from 'pino';
import { ConfigError, loadConfig } from './config.js';
import { logSerializers } from './logging.js';
import { StoreUnavailableError, startServer } from './server.js';
import { runWorkerPrimary, servesHttp } from './workers.js';

// Entry point of `npm start`: read config once, start, stop cleanly on SIGINT/SIGTERM.
let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`devicegate: ${error.message}\n`);
  process.exit(78); // EX_CONFIG
}

const logger = pino({ level: config.logLevel, serializers: logSerializers });
if (!servesHttp(config.workers)) {
  // WORKERS > 1: this process only supervises; each worker runs the code below.
  runWorkerPrimary(config.workers!, logger);
} else try {
  const server = await startServer(config, { logger });
  logger.info(
    { url: server.url, issuer: config.issuer, store: config.redisClusterNodes?.length ? 'redis-cluster' : config.redisUrl ? 'redis' : 'memory', config: config.configPath },
    'devicegate listening',
  );
  // SIGTERM/SIGINT: drain (readiness false at once, requests in flight finish within
  // SHUTDOWN_TIMEOUT_MS, Redis closed), then exit 0. A second signal does not cut the drain short;
  // the drain timeout bounds it.
  const stop = async (signal: string) => {
    logger.info({ signal }, 'shutting down');
    try {
      await server.close();
    } catch (error) {
      logger.error({ err: error }, 'error while shutting down');
      process.exit(1);
    }
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
} catch (error) {
  // A bad signing-key file or data directory is a configuration error like any other.
  if (error instanceof ConfigError) {
    process.stderr.write(`devicegate: ${error.message}\n`);
    process.exit(78);
  }
  if (error instanceof StoreUnavailableError) {
    // Start-up with Redis down: exit with a clear message; the supervisor (systemd Restart=,
    // Kubernetes) starts us again. Serving without the store would answer 503 to everything.
    process.stderr.write(`devicegate: ${error.message}\n`);
    process.exit(69); // EX_UNAVAILABLE
  }
  logger.fatal({ err: error }, 'devicegate could not start');
  process.exit(1);
}
