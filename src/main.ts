import { pino } from 'pino';
import { ConfigError, loadConfig } from './config.js';
import { startServer } from './server.js';

// Entry point of `npm start`: read config once, start, stop cleanly on SIGINT/SIGTERM.
let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`devicegate: ${error.message}\n`);
  process.exit(78); // EX_CONFIG
}

const logger = pino({ level: config.logLevel });
try {
  const server = await startServer(config, { logger });
  logger.info(
    { url: server.url, issuer: config.issuer, store: config.redisUrl ? 'redis' : 'memory', config: config.configPath },
    'devicegate listening',
  );
  const stop = async (signal: string) => {
    logger.info({ signal }, 'shutting down');
    await server.close();
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
  logger.fatal({ err: error }, 'devicegate could not start');
  process.exit(1);
}
