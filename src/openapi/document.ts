import { generateOpenApiDocument, type OpenAPIObject } from 'trpc-to-openapi';
import { appRouter, oauthErrorsByOperation } from './router.js';
import { z } from 'zod';
import { AuthorizationRequest } from '../contracts/authorization.js';
import { OAuthErrorBody } from '../contracts/oauth-error.js';

// biome-ignore lint/suspicious/noExplicitAny: the generated document is walked and patched loosely, then linted by redocly.
type Json = Record<string, any>;

const NO_STORE_HEADERS = {
  'Cache-Control': {
    description: 'Always `no-store` (RFC 6749 §5.1).',
    schema: { type: 'string', const: 'no-store' },
  },
  Pragma: { description: 'Always `no-cache`, for HTTP/1.0 caches.', schema: { type: 'string', const: 'no-cache' } },
};

const CACHEABLE_HEADERS = {
  'Cache-Control': { description: '`public, max-age=300`.', schema: { type: 'string' } },
};

/**
 * The OpenAPI 3.1 document: trpc-to-openapi renders the procedures' Zod contracts, then this step
 * replaces tRPC's generic error responses with the RFC 6749 §5.2 `OAuthError` body, adds the
 * no-store headers, the optional HTTP Basic client authentication and the form encoding of
 * repeatable parameters. Deterministic: same contracts, same bytes.
 */
export function buildOpenApiDocument(): OpenAPIObject {
  const document = generateOpenApiDocument(appRouter, {
    title: 'devicegate',
    description:
      'OAuth 2.0 Device Authorization Grant (RFC 8628) for command-line tools and MCP clients. ' +
      'Requests are `application/x-www-form-urlencoded`; responses are JSON with `Cache-Control: no-store`; ' +
      'errors are RFC 6749 §5.2 bodies.',
    version: '0.1.0',
    openApiVersion: '3.1.0',
    baseUrl: 'http://localhost:3000',
    license: { name: 'MIT', identifier: 'MIT' },
    securitySchemes: {
      client_secret_basic: {
        type: 'http',
        scheme: 'basic',
        description: 'Confidential clients only (RFC 6749 §2.3.1). Public clients send client_id in the body.',
      },
    },
    defs: { OAuthError: OAuthErrorBody },
  }) as Json;

  // Public clients authenticate with nothing (RFC 8628 §3.1); Basic is optional per operation.
  document.security = [];
  document.tags = [
    { name: 'OAuth', description: 'OAuth 2.0 endpoints, exactly as the RFCs put them on the wire.' },
    { name: 'Discovery', description: 'Metadata (RFC 8414) and the public keys that verify access tokens.' },
  ];
  for (const pathItem of Object.values(document.paths as Json)) {
    for (const operation of Object.values(pathItem as Json) as Json[]) {
      if (operation.parameters?.length === 0) delete operation.parameters;
      const errors = oauthErrorsByOperation[operation.operationId];
      if (!errors) {
        // Public, cacheable documents (discovery, JWKS): no client authentication, no OAuth errors.
        delete operation.security;
        operation.responses = {
          '200': { ...operation.responses['200'], headers: CACHEABLE_HEADERS },
          '405': {
            description: '`invalid_request`: only GET and HEAD are allowed.',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/OAuthError' } } },
          },
        };
        continue;
      }
      operation.security = [{}, { client_secret_basic: [] }];
      const form = operation.requestBody?.content?.['application/x-www-form-urlencoded'];
      if (form) form.encoding = formEncoding(form.schema);
      operation.responses = oauthResponses(operation.responses['200'], errors);
    }
  }
  for (const name of Object.keys(document.components.schemas)) {
    if (name.startsWith('error.')) delete document.components.schemas[name];
  }
  addAuthorizationEndpoint(document);
  return document as OpenAPIObject;
}

/**
 * The authorization endpoint is a browser endpoint (redirects and HTML pages), outside the tRPC
 * router: described here from its Zod contract (src/contracts/authorization.ts).
 */
function addAuthorizationEndpoint(document: Json): void {
  // A contract with a meta id comes out as a $ref into $defs: take the definition itself.
  const definition = (schema: z.ZodType, id: string, io: 'input' | 'output') =>
    (z.toJSONSchema(schema, { io, target: 'draft-2020-12' }) as Json).$defs[id] as Json;
  const request = definition(AuthorizationRequest, 'AuthorizationRequest', 'input');
  document.components.schemas.AuthorizationRequest = request;
  const required = new Set<string>(request.required ?? []);
  const parameters = Object.entries(request.properties as Json).map(([name, schema]) => ({
    name,
    in: 'query',
    required: required.has(name),
    description: (schema as Json).description,
    schema: { ...(schema as Json), description: undefined },
    ...((schema as Json).type === 'array' ? { style: 'form', explode: true } : {}),
  }));
  const page = (description: string) => ({ description, content: { 'text/html': { schema: { type: 'string' } } } });
  const redirect = {
    description:
      'See Other: back to the client\'s `redirect_uri` with `code`, `state` and `iss` after Approve, or `error`, `state` and `iss` ' +
      '(`access_denied` after Deny; request errors once the client and redirect URI are trusted, RFC 6749 §4.1.2.1). A valid request ' +
      'is first redirected to `/device/authorize` (sign-in and the confirmation page).',
    headers: {
      Location: {
        description:
          'The redirect URI with, added to its query: `code` (single use, 60 s) or `error` + `error_description`; `state` when the ' +
          'request had one; always `iss` (RFC 9207). Or `/device/authorize?…` for a valid request.',
        schema: { type: 'string' },
      },
    },
  };
  const operation = (method: 'get' | 'post') => ({
    operationId: `authorize${method === 'get' ? 'Get' : 'Post'}`,
    summary: 'Authorization Request (OAuth 2.1 §4.1.1, PKCE S256, RFC 8707, RFC 9207)',
    description:
      'The authorization code flow for browsers and MCP hosts. Errors before the client and `redirect_uri` are trusted are shown ' +
      'on a page and never redirected; every redirect carries `iss`.',
    tags: ['OAuth'],
    security: [],
    ...(method === 'get'
      ? { parameters }
      : {
          requestBody: {
            required: true,
            content: {
              'application/x-www-form-urlencoded': {
                schema: { $ref: '#/components/schemas/AuthorizationRequest' },
                encoding: { resource: { style: 'form', explode: true } },
              },
            },
          },
        }),
    responses: {
      '303': redirect,
      '400': page('`invalid_request` shown on a page: missing or unregistered `redirect_uri`, missing `client_id`.'),
      '401': page('`invalid_client` shown on a page: unknown client, or a Client ID Metadata Document that cannot be used.'),
      '429': page('Too many authorization requests naming Client ID Metadata Documents from this client IP.'),
    },
  });
  document.paths['/oauth/authorize'] = { get: operation('get'), post: operation('post') };
}

/** Repeatable (array) parameters are sent as the same name repeated: `resource=a&resource=b`. */
function formEncoding(schema: Json): Json {
  const encoding: Json = {};
  for (const [name, property] of Object.entries(schema.properties ?? {}) as [string, Json][]) {
    if (property.type === 'array') encoding[name] = { style: 'form', explode: true };
  }
  return encoding;
}

function oauthResponses(success: Json, errors: readonly string[]): Json {
  const errorResponse = (description: string, extraHeaders: Json = {}) => ({
    description,
    headers: { ...NO_STORE_HEADERS, ...extraHeaders },
    content: { 'application/json': { schema: { $ref: '#/components/schemas/OAuthError' } } },
  });
  const clientErrors = errors.filter((code) => !['invalid_client', 'temporarily_unavailable'].includes(code));
  return {
    '200': { ...success, headers: NO_STORE_HEADERS },
    '400': errorResponse(`RFC 6749 §5.2 error: ${clientErrors.map((code) => `\`${code}\``).join(', ')}.`),
    ...(errors.includes('invalid_client') && {
      '401': errorResponse('`invalid_client`: unknown client or failed client authentication.', {
        'WWW-Authenticate': {
          description: 'Present when the client tried HTTP Basic authentication.',
          schema: { type: 'string' },
        },
      }),
    }),
    '405': errorResponse('`invalid_request`: only POST is allowed.', {
      Allow: { description: 'Always `POST`.', schema: { type: 'string' } },
    }),
    '413': errorResponse('`invalid_request`: the form body exceeds 4 KiB.'),
    ...(errors.includes('invalid_client') && {
      '429': errorResponse(
        '`slow_down`: a flood limit was reached: failed client authentications per client IP or per client, ' +
          'or (device authorization) requests per client IP or per client. Retry after `Retry-After` seconds.',
        {
          'Retry-After': {
            description: 'Seconds until the limit allows another request (RFC 9110 §10.2.3).',
            schema: { type: 'integer', minimum: 1 },
          },
        },
      ),
    }),
    '503': errorResponse('`temporarily_unavailable`: the grant store is unreachable; retry later.'),
  };
}
