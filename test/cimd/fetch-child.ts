/**
 * Runs in a child process started with NODE_EXTRA_CA_CERTS (Node reads it only at start-up): resolves
 * the document URLs named on the command line and prints one JSON line of outcomes. Names resolve
 * through a fixed table, so "cimd.test" is the local HTTPS server and "private.test" a private address.
 */
import type { LookupFunction } from 'node:net';
import { ClientMetadataFetcher } from '../../src/cimd/fetch-client-metadata.js';
import { ClientMetadataError } from '../../src/domain/client-metadata-document.js';

const { port, steps } = JSON.parse(process.argv[2]!) as { port: number; steps: Step[] };
type Step = { name: string; url: string; fetcher?: 'loopback' | 'strict'; advanceMs?: number };

const NAMES: Record<string, { address: string; family: number }[]> = {
  'cimd.test': [{ address: '127.0.0.1', family: 4 }],
  'private.test': [{ address: '10.0.0.7', family: 4 }],
  'mapped.test': [{ address: '::ffff:10.0.0.7', family: 6 }],
  'cgnat.test': [{ address: '100.64.1.1', family: 4 }],
  'mixed.test': [
    { address: '127.0.0.1', family: 4 },
    { address: '192.168.1.1', family: 4 },
  ],
};
const lookup = ((hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
  const answers = NAMES[hostname];
  if (!answers) return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }));
  if (options.all) return callback(null, answers);
  callback(null, answers[0]!.address, answers[0]!.family);
}) as unknown as LookupFunction;

let offset = 0;
const now = () => Date.now() + offset;
const fetchers = {
  loopback: new ClientMetadataFetcher({ allowLoopback: true, lookup, now, timeoutMs: 1_500 }),
  strict: new ClientMetadataFetcher({ allowLoopback: false, lookup, now, timeoutMs: 1_500 }),
};

const outcomes: Record<string, unknown> = {};
for (const step of steps) {
  offset += step.advanceMs ?? 0;
  const url = step.url.replace('{port}', String(port));
  const started = Date.now();
  try {
    const client = await fetchers[step.fetcher ?? 'loopback'].resolve(url);
    outcomes[step.name] = { ok: true, client, ms: Date.now() - started };
  } catch (error) {
    outcomes[step.name] =
      error instanceof ClientMetadataError
        ? { ok: false, reason: error.reason, message: error.message, ms: Date.now() - started }
        : { ok: false, unexpected: String(error) };
  }
}
await Promise.all(Object.values(fetchers).map((fetcher) => fetcher.close()));
process.stdout.write(`${JSON.stringify(outcomes)}\n`);
