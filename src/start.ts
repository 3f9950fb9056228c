/**
 * The package's server entry (`import { loadConfig, startServer } from 'devicegate/server'`): embed
 * devicegate in your own process, or start it with your own logger.
 *
 *   const server = await startServer(loadConfig());   // reads PORT, ISSUER, DEVICEGATE_CONFIG, … from process.env
 *   …
 *   await server.close();
 *
 * `devicegate serve` (src/main.ts) does the same, plus logging and SIGINT/SIGTERM handling.
 */
export { type Config, ConfigError, loadConfig, parseConfigFile } from './config.js';
export { type RunningServer, type StartOptions, type Stores, startServer } from './server.js';
