// Ceiling for bench/device-authorize.ts: the least a Koa 3 server can do for
// POST /oauth/device/authorize with a Redis-backed store — read the urlencoded body, make exactly ONE
// Redis round trip (SET <random key> <~300-byte value> PX <ms>), answer 200 JSON of about the same
// size as devicegate's response. No router, no body parser, no validation. Any GET answers
// {"status":"ok"} without Redis (readiness).
//   PORT=4100 HOST=127.0.0.1 REDIS_URL=redis://127.0.0.1:6391/0 NODE_ENV=production node bench/ceiling.mjs
//
// CEILING_MODE=poll (bench/poll.ts): the same for a token poll — read the body, make exactly ONE round
// trip, GET ceiling:poll:<device_code>, and answer 400 {"error":"authorization_pending",…} (or
// invalid_grant when the key is absent) with devicegate's no-store headers. With CODES_FILE (one device
// code a line) it first stores a ~300-byte value under each code's key (pipelined, before listening), so
// that the GETs find something.
// CEILING_SERVER=node-http (bench/poll.ts row 5): the same handlers on node:http alone, without Koa, the
// shape of /work/shared/peer-bench's `http-redis` ceiling: a stricter bar than bare Koa.
// Same koa and ioredis as devicegate (resolved from /work/main/node_modules).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { Redis } from 'ioredis';
import Koa from 'koa';

const PORT = Number(process.env.PORT ?? 4100);
const HOST = process.env.HOST ?? '127.0.0.1';
const REDIS_URL = process.env.REDIS_URL;
const MODE = process.env.CEILING_MODE ?? 'authorize';
if (MODE !== 'authorize' && MODE !== 'poll') {
  console.error(`ceiling: CEILING_MODE must be authorize or poll, got ${MODE}`);
  process.exit(2);
}
const SERVER = process.env.CEILING_SERVER ?? 'koa';
if (SERVER !== 'koa' && SERVER !== 'node-http') {
  console.error(`ceiling: CEILING_SERVER must be koa or node-http, got ${SERVER}`);
  process.exit(2);
}
if (!REDIS_URL) {
  console.error('ceiling: REDIS_URL is required');
  process.exit(2);
}
// devicegate keeps a grant for expires_in (900 s) + a 600 s tombstone.
const TTL_MS = 1_500_000;

// Same connection settings as devicegate's redisOptions() (src/store/redis/connection.ts), autopipelining off.
const redis = new Redis(REDIS_URL, {
  lazyConnect: true,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  commandTimeout: 2_000,
  connectTimeout: 2_000,
});
redis.on('error', () => {});
await redis.connect();

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** One stored pending grant, about the size of devicegate's hash of one. */
function grantValue(clientId, scope) {
  const userCode = randomBytes(4).toString('hex').toUpperCase();
  const now = Date.now();
  return JSON.stringify({
    client_id: clientId,
    scope,
    user_code: userCode,
    status: 'pending',
    interval: 5,
    created_at: now,
    expires_at: now + 900_000,
    requester_ip: '127.0.0.1',
    requester_user_agent: 'wrk',
  });
}

const PENDING = { error: 'authorization_pending', error_description: 'the user has not yet approved or denied the request' };
const UNKNOWN = { error: 'invalid_grant', error_description: 'device_code is invalid, was issued to another client, or was already used' };

async function seedCodes(file) {
  const codes = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  for (let i = 0; i < codes.length; i += 1000) {
    const pipeline = redis.pipeline();
    for (const code of codes.slice(i, i + 1000)) pipeline.set(`ceiling:poll:${code}`, grantValue('demo-cli', 'openid'), 'PX', TTL_MS);
    for (const [err] of await pipeline.exec()) if (err) throw err;
  }
  console.log(`ceiling: stored ${codes.length} pending grants from ${file}`);
}
if (MODE === 'poll' && process.env.CODES_FILE) await seedCodes(process.env.CODES_FILE);

/** One device authorization: the one SET it makes (the round trip), then its answer. */
async function storeNewGrant(params, requesterIp, requesterUserAgent) {
  const deviceCode = randomBytes(32).toString('base64url');
  const userCode = randomBytes(4).toString('hex').toUpperCase();
  const now = Date.now();
  const value = JSON.stringify({
    client_id: params.get('client_id'),
    scope: params.get('scope'),
    user_code: userCode,
    status: 'pending',
    interval: 5,
    created_at: now,
    expires_at: now + 900_000,
    requester_ip: requesterIp,
    requester_user_agent: requesterUserAgent,
  });
  await redis.set(`ceiling:grant:${deviceCode}`, value, 'PX', TTL_MS); // the one round trip
  return {
    device_code: deviceCode,
    user_code: `${userCode.slice(0, 4)}-${userCode.slice(4)}`,
    verification_uri: `http://${HOST}:${PORT}/device`,
    verification_uri_complete: `http://${HOST}:${PORT}/device?user_code=${userCode}`,
    expires_in: 900,
    interval: 5,
  };
}

/** POST /oauth/device/authorize: one SET. */
async function authorize(ctx) {
  if (ctx.method !== 'POST') {
    ctx.body = { status: 'ok' };
    return;
  }
  const params = new URLSearchParams(await readBody(ctx.req));
  const answer = await storeNewGrant(params, ctx.ip, ctx.get('user-agent'));
  ctx.set('Cache-Control', 'no-store');
  ctx.body = answer;
}

/** POST /oauth/token (device_code poll): one GET. */
async function poll(ctx) {
  if (ctx.method !== 'POST') {
    ctx.body = { status: 'ok' };
    return;
  }
  const params = new URLSearchParams(await readBody(ctx.req));
  const stored = await redis.get(`ceiling:poll:${params.get('device_code')}`); // the one round trip
  ctx.status = 400;
  ctx.set('Cache-Control', 'no-store');
  ctx.set('Pragma', 'no-cache');
  ctx.body = stored === null ? UNKNOWN : PENDING;
}

/** node:http: the same answers, written directly. */
function send(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

async function authorizeHttp(req, res) {
  if (req.method !== 'POST') return send(res, 200, { status: 'ok' });
  const params = new URLSearchParams(await readBody(req));
  const answer = await storeNewGrant(params, req.socket.remoteAddress, req.headers['user-agent']);
  send(res, 200, answer, { 'cache-control': 'no-store' });
}

async function pollHttp(req, res) {
  if (req.method !== 'POST') return send(res, 200, { status: 'ok' });
  const params = new URLSearchParams(await readBody(req));
  const stored = await redis.get(`ceiling:poll:${params.get('device_code')}`); // the one round trip
  send(res, 400, stored === null ? UNKNOWN : PENDING, { 'cache-control': 'no-store', pragma: 'no-cache' });
}

let server;
const listening = () => {
  console.log(`ceiling (${MODE}, ${SERVER}) listening on http://${HOST}:${PORT} (redis ${REDIS_URL}, pid ${process.pid})`);
};
if (SERVER === 'koa') {
  const app = new Koa();
  app.use(MODE === 'poll' ? poll : authorize);
  server = app.listen(PORT, HOST, listening);
} else {
  server = http.createServer(MODE === 'poll' ? pollHttp : authorizeHttp).listen(PORT, HOST, listening);
}
const stop = () => {
  server.close();
  redis.quit().finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 2_000).unref();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
