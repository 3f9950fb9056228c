import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { createResourceServer, type ResourceServer } from '../../src/resource-server/index.js';
import { basic, CONFIDENTIAL_SECRET } from './server.js';

/**
 * A remote MCP server protected by devicegate access tokens, for the mcp-proxy tests: the SDK's
 * McpServer over the stateful Streamable HTTP server transport on node:http, guarded by the
 * resource-server helper (src/resource-server/: the JWT checked offline against the issuer's JWKS,
 * audience = this server's URL, scope `mcp:tools`; its RFC 9728 metadata, and 401 challenges naming
 * it in `resource_metadata`). With `introspect` on, a token must also still be active at the
 * issuer's RFC 7662 endpoint, so a revoked login is noticed at once.
 */
export interface ProtectedMcpServer {
  /** The MCP endpoint, also the resource identifier (RFC 8707 `resource`, the tokens' `aud`). */
  readonly url: string;
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
  let resourceServer: ResourceServer | undefined;
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

  const fixture: ProtectedMcpServer = {
    url,
    acceptedTokens,
    rejected,
    introspect: false,
    setIssuer(value) {
      issuer = value;
      resourceServer = createResourceServer({ issuer, resource: url, scopesSupported: ['mcp:tools'], resourceName: 'protected test server' });
    },
    async close() {
      for (const transport of sessions.values()) await transport.close().catch(() => undefined);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  /** RFC 7662 at the issuer (as the confidential client `basic-service`): a revoked token is inactive at once. */
  async function stillActive(token: string): Promise<boolean> {
    const answer = await fetch(`${issuer}/oauth/introspect`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basic('basic-service', CONFIDENTIAL_SECRET) },
      body: new URLSearchParams({ token }).toString(),
    });
    return ((await answer.json()) as { active?: boolean }).active === true;
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = new URL(request.url ?? '/', base).pathname;
    if (resourceServer?.handleMetadataRequest(request, response)) return; // RFC 9728 metadata
    if (path !== '/mcp' || !resourceServer) {
      response.writeHead(404).end();
      return;
    }
    const presented = /^Bearer (\S+)$/i.exec(request.headers.authorization ?? '')?.[1] ?? null;
    const verdict = await resourceServer.authenticate(request.headers.authorization, ['mcp:tools']);
    let auth: AuthInfo | null = null;
    if (verdict.ok && (!fixture.introspect || (await stillActive(verdict.token.token)))) {
      const { token, clientId, scopes, expiresAt, subject } = verdict.token;
      auth = { token, clientId, scopes: [...scopes], expiresAt, extra: { subject } };
    }
    if (!auth) {
      rejected.push(presented);
      if (!verdict.ok) {
        response.writeHead(verdict.status, { ...(verdict.wwwAuthenticate && { 'WWW-Authenticate': verdict.wwwAuthenticate }), 'Content-Type': 'application/json' });
        response.end(JSON.stringify(verdict.body ?? {}));
        return;
      }
      // Valid offline, revoked at the issuer: the helper's kind of challenge, error="invalid_token" (RFC 6750 §3.1).
      response.writeHead(401, { 'WWW-Authenticate': `Bearer resource_metadata="${resourceServer.metadataUrl}", error="invalid_token"`, 'Content-Type': 'application/json' });
      response.end(JSON.stringify({ error: 'invalid_token', error_description: 'the token was revoked' }));
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

/** The MCP server's tools: `whoami` answers with the token's subject, `notify` sends the host a log message, `roots` asks the host for its roots. */
function toolServer(): McpServer {
  const mcp = new McpServer({ name: 'protected-test-server', version: '1.0.0' }, { capabilities: { logging: {} } });
  mcp.registerTool('whoami', { description: 'Who the access token was issued to' }, async (extra) => ({
    content: [{ type: 'text', text: `subject=${String(extra.authInfo?.extra?.subject)} client=${extra.authInfo?.clientId}` }],
  }));
  // A server-to-client notification inside a tool call: a log message, then the result.
  mcp.registerTool('notify', { description: 'Sends the host a log message' }, async (extra) => {
    await extra.sendNotification({ method: 'notifications/message', params: { level: 'info', data: 'hello from the server' } });
    return { content: [{ type: 'text', text: 'sent' }] };
  });
  // A server-to-client request inside a tool call: the host's roots come back through the relay.
  mcp.registerTool('roots', { description: "The host's roots (asks the host: roots/list)" }, async (extra) => {
    const { roots } = await mcp.server.listRoots(undefined, { relatedRequestId: extra.requestId });
    return { content: [{ type: 'text', text: roots.map((root) => root.uri).join(' ') }] };
  });
  return mcp;
}
