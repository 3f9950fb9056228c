import type { Server } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createResourceServer, mcpBearerAuthOptions, type ResourceServer } from '../../src/resource-server/index.js';

export interface ProtectedMcpServer {
  readonly url: string;
  readonly resourceServer: ResourceServer;
  close(): Promise<void>;
}

/**
 * A stock MCP server (McpServer + Streamable HTTP, stateless, on the SDK's Express app) protected by
 * the helper exactly as the README shows. Its `whoami` tool answers from the verified token.
 */
export async function startProtectedMcpServer(options: { issuer: string; port: number; requiredScopes?: string[] }): Promise<ProtectedMcpServer> {
  const url = `http://127.0.0.1:${options.port}/mcp`;
  const resourceServer = createResourceServer({
    issuer: options.issuer,
    resource: url,
    requiredScopes: options.requiredScopes ?? ['mcp:tools'],
    resourceName: 'Test MCP server',
  });

  const app = createMcpExpressApp({ host: '127.0.0.1' });
  app.get([...resourceServer.metadataPaths], (req, res) => void resourceServer.handleMetadataRequest(req, res));
  app.post('/mcp', requireBearerAuth(mcpBearerAuthOptions(resourceServer)), async (req, res) => {
    // Stateless Streamable HTTP: one server and transport per request (the SDK's documented pattern).
    const server = new McpServer({ name: 'protected-test-server', version: '1.0.0' });
    server.registerTool('whoami', { description: 'Who the bearer token speaks for' }, (extra) => ({
      content: [{ type: 'text', text: JSON.stringify({ subject: extra.authInfo?.extra?.subject, clientId: extra.authInfo?.clientId, scopes: extra.authInfo?.scopes }) }],
    }));
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => void transport.close().then(() => server.close()));
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
  });

  const http: Server = await new Promise((resolve) => {
    const listening = app.listen(options.port, '127.0.0.1', () => resolve(listening));
  });
  return {
    url,
    resourceServer,
    close: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
}
