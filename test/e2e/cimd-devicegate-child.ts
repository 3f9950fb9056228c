/**
 * A devicegate server in a child process started with NODE_EXTRA_CA_CERTS (Node reads it only at
 * start-up), so that its Client ID Metadata Document fetches trust the test CA like an operator's
 * would. Prints one JSON line `{ "url": … }` when listening; SIGTERM closes it.
 */
import { pino } from 'pino';
import { parseConfigFile } from '../../src/config.js';
import { systemClock } from '../../src/domain/clock.js';
import { startServer } from '../../src/server.js';
import { testConfig, testStores } from '../support/server.js';

const { file } = JSON.parse(process.argv[2]!) as { file: unknown };
const config = await testConfig({ file: parseConfigFile(JSON.stringify(file)) });
const server = await startServer(config, { clock: systemClock, stores: await testStores('memory', systemClock), logger: pino({ level: 'silent' }) });
process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
process.on('SIGTERM', () => {
  void server.close().then(() => process.exit(0));
});
