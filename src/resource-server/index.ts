/**
 * devicegate/resource-server: protect an MCP server (or any HTTP API) with devicegate's access tokens.
 *
 *   const resourceServer = createResourceServer({ issuer: 'https://auth.example.com', resource: 'https://mcp.example.com/mcp' });
 *   app.get(resourceServer.metadataPaths, (req, res) => resourceServer.handleMetadataRequest(req, res));
 *   app.post('/mcp', requireBearerAuth(mcpBearerAuthOptions(resourceServer)), mcpHandler);
 */
export { bearerChallenge } from './challenge.js';
export { type BearerErrorCode, BearerTokenError, InsufficientScopeError, InvalidRequestError, InvalidTokenError, KeySetUnavailableError } from './errors.js';
export { mcpBearerAuthOptions, mcpTokenVerifier } from './mcp-sdk.js';
export {
  PROTECTED_RESOURCE_WELL_KNOWN,
  type ProtectedResourceMetadata,
  protectedResourceMetadataPaths,
  protectedResourceMetadataUrl,
} from './metadata.js';
export {
  type AuthenticationResult,
  createResourceServer,
  ResourceServer,
  type ResourceServerOptions,
  type VerifiedAccessToken,
} from './resource-server.js';
