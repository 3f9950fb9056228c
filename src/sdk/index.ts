/**
 * The devicegate SDK: the typed OAuth client (client.ts, on the generated OpenAPI types), RFC 8414
 * authorization server discovery (discovery.ts) and RFC 9728 protected resource discovery
 * (resource-discovery.ts), which leads from an MCP server's URL to its issuer.
 */
export * from './client.js';
export * from './discovery.js';
export * from './resource-discovery.js';
