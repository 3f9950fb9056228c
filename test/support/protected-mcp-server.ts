import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { basic, CONFIDENTIAL_SECRET } from './server.js';

/**
 * A remote MCP server protected by devicegate access tokens, for the mcp-proxy tests (until the
 * resource-server helper exists, then it can use that): the SDK's McpServer over the Streamable HTTP
 * server transport on node:http. Every /mcp request needs `Authorization: Bearer <JWT>` verified
 * with jose against the issuer's JWKS (issuer, audience = this server's URL, `typ: at+jwt`) and,
 * when `introspect` is on, still active at the issuer's RFC 7662 endpoint (so a revoked login is
 * noticed at once); otherwise 401 with `WWW-Authenticate: Bearer resource_metadata="…"` (RFC 9728
 * §5.1). The RFC 9728 metadata names the devicegate test server as the authorization server.
 */
export interface ProtectedMcpServer {
  /** The MCP endpoint, also the resource identifier (RFC 8707 `resource`, the tokens' `aud`). */
  readonly url: string;
  readonly metadataUrl: string;
  /** Every bearer token the server accepted, in order. */
  readonly acceptedTokens: string[];
  /** Requests answered 401, with the token they carried (null: none). */
  readonly rejected: (string | null)[];
  setIssuer(issuer: string): void;
  /** Check tokens at the issuer's introspection endpoint too (as client `basic-service`). */
  introspect: boolean;
  close(): Promise<void>;
}

export async function startProtectedMcpServer(): Promise<ProtectedMcpServer> {
  let issuer = '';
  let jwks: ReturnType<typeof createRemoteJWKSet> | undefined;
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const acceptedTokens: string[] = [];
  const rejected: (string | null)[] = [];

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(500, { 'Content-Type': 'text/plain' });
      response.end(String(error));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const url = `${base}/mcp`;
  const metadataUrl = `${base}/.well-known/oauth-protected-resource/mcp`;

  const fixture: ProtectedMcpServer = {
    url,
    metadataUrl,
    acceptedTokens,
    rejected,
    introspect: false,
    setIssuer(value) {
      issuer = value;
      jwks = createRemoteJWKSet(new URL(`${issuer}/.well-known/jwks.json`));
    },
    async close() {
      for (const transport of sessions.values()) await transport.close().catch(() => undefined);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  async function authenticate(request: IncomingMessage): Promise<AuthInfo | null> {
    const header = request.headers.authorization ?? '';
    const token = /^Bearer (\S+)$/i.exec(header)?.[1];
    if (!token || !jwks) return null;
    try {
      const { payload } = await jwtVerify(token, jwks, { issuer, audience: url, typ: 'at+jwt', algorithms: ['ES256'] });
      if (fixture.introspect) {
        const answer = await fetch(`${issuer}/oauth/introspect`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basic('basic-service', CONFIDENTIAL_SECRET) },
          body: new URLSearchParams({ token }).toString(),
        });
        if (!((await answer.json()) as { active?: boolean }).active) return null;
      }
      return {
        token,
        clientId: String(payload.client_id),
        scopes: typeof payload.scope === 'string' ? payload.scope.split(' ') : [],
        expiresAt: payload.exp,
        extra: { subject: payload.sub },
      };
    } catch {
      return null;
    }
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = new URL(request.url ?? '/', base).pathname;
    if (path === '/.well-known/oauth-protected-resource/mcp' && request.method === 'GET') {
      response.writeHead(200, { 'Content-Type': 'application/json' }).end(
        JSON.stringify({ resource: url, authorization_servers: [issuer], scopes_supported: ['mcp:tools'], bearer_methods_supported: ['header'] }),
      );
      return;
    }
    if (path !== '/mcp') {
      response.writeHead(404).end();
      return;
    }
    const auth = await authenticate(request);
    if (!auth) {
      const token = /^Bearer (\S+)$/i.exec(request.headers.authorization ?? '')?.[1] ?? null;
      rejected.push(token);
      // RFC 6750 §3.1: error="invalid_token" only when a token was presented.
      const error = token ? ', error="invalid_token"' : '';
      response.writeHead(401, { 'WWW-Authenticate': `Bearer resource_metadata="${metadataUrl}"${error}`, 'Content-Type': 'application/json' });
      response.end(JSON.stringify({ error: token ? 'invalid_token' : 'unauthorized' }));
      return;
    }
    acceptedTokens.push(auth.token);
    let body: unknown;
    if (request.method === 'POST') {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    }
    const sessionId = request.headers['mcp-session-id'];
    let transport = typeof sessionId === 'string' ? sessions.get(sessionId) : undefined;
    if (!transport) {
      if (!isInitializeRequest(body)) {
        response.writeHead(400, { 'Content-Type': 'application/json' }).end(
          JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32000, message: 'no valid session' } }),
        );
        return;
      }
      const created: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => {
          sessions.set(id, created);
        },
      });
      created.onclose = () => {
        if (created.sessionId) sessions.delete(created.sessionId);
      };
      await toolServer().connect(created);
      transport = created;
    }
    await transport.handleRequest(Object.assign(request, { auth }), response, body);
  }

  return fixture;
}

/** The MCP server's tools: `whoami` answers with the token's subject, `roots` asks the host for its roots. */
function toolServer(): McpServer {
  const mcp = new McpServer({ name: 'protected-test-server', version: '1.0.0' });
  mcp.registerTool('whoami', { description: 'Who the access token was issued to' }, async (extra) => ({
    content: [{ type: 'text', text: `subject=${String(extra.authInfo?.extra?.subject)} client=${extra.authInfo?.clientId}` }],
  }));
  // A server-to-client request inside a tool call: the host's roots come back through the relay.
  mcp.registerTool('roots', { description: "The host's roots (asks the host: roots/list)" }, async (extra) => {
    const { roots } = await mcp.server.listRoots(undefined, { relatedRequestId: extra.requestId });
    return { content: [{ type: 'text', text: roots.map((root) => root.uri).join(' ') }] };
  });
  return mcp;
}
