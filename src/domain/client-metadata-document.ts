import { z } from 'zod';

/**
 * OAuth Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document; the MCP
 * authorization spec's preferred way for a client to identify itself without registration): the
 * `client_id` is an https URL, and the document served there describes the client with RFC 7591
 * metadata names. This file holds the pure rules — which URLs can be client ids, what a document must
 * say — and the interface the authorization and token endpoints resolve through; fetching lives in
 * src/cimd/fetch-client-metadata.ts.
 */

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** Grant types a document-identified (public) client can be given here. Others in a document are ignored. */
export const CIMD_GRANT_TYPES = ['authorization_code', 'refresh_token', DEVICE_CODE_GRANT] as const;
export type CimdGrantType = (typeof CIMD_GRANT_TYPES)[number];

/** Limits on what a document may declare, so that one document cannot bloat every page and record. */
export const MAX_REDIRECT_URIS = 20;
export const MAX_URI_LENGTH = 2_000;
export const MAX_CLIENT_NAME_LENGTH = 200;

/** Why a client_id could not be resolved to a usable client. Every reason is `invalid_client` on the wire. */
export type ClientMetadataErrorReason =
  /** The client_id is not an acceptable document URL (not https, no path, dot segments, fragment, credentials). */
  | 'invalid_client_id_url'
  /** The host resolves to (or the connection reached) an address the policy refuses (SSRF protection). */
  | 'forbidden_address'
  /** DNS, TCP or TLS failed (unknown host, refused, untrusted certificate…). */
  | 'fetch_failed'
  /** The whole fetch took longer than the limit. */
  | 'timeout'
  /** The response was a redirect; documents are fetched without following any. */
  | 'redirect'
  /** Any status other than 200. */
  | 'bad_status'
  /** Content-Type is not JSON (`application/json` or `+json`). */
  | 'wrong_content_type'
  /** Larger than the size limit (by Content-Length or while streaming). */
  | 'too_large'
  /** The body is not a JSON object. */
  | 'not_json'
  /** The document's `client_id` is not exactly the URL it was fetched from. */
  | 'client_id_mismatch'
  /** The document breaks a rule (missing redirect_uris, a secret, a shared-secret auth method…). */
  | 'invalid_document';

/**
 * A client_id that could not be resolved. The authorization endpoint shows it on its error page
 * (never redirects: the redirect URI is not trusted yet, RFC 6749 §4.1.2.1); the token and device
 * endpoints answer `invalid_client` (RFC 6749 §5.2). `reason` is for logs and the description;
 * `transient` marks failures worth retrying later (timeout, network, 5xx), which are cached only briefly.
 */
export class ClientMetadataError extends Error {
  override readonly name = 'ClientMetadataError';
  constructor(
    readonly reason: ClientMetadataErrorReason,
    message: string,
    readonly clientId: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
  get transient(): boolean {
    return this.reason === 'timeout' || this.reason === 'fetch_failed' || this.reason === 'bad_status';
  }
}

/** A client described by a validated document: what the endpoints need, in devicegate's names. */
export interface ClientMetadataDocumentClient {
  /** The document URL, which is the client_id. */
  readonly clientId: string;
  /** The URL's host, to show prominently on the confirmation page: who really asks. */
  readonly host: string;
  /** The document's `client_name`, if any. Shown, but never instead of `host`: anyone can write any name. */
  readonly clientName: string | undefined;
  /** Empty for a device-only client. */
  readonly redirectUris: readonly string[];
  readonly grantTypes: readonly CimdGrantType[];
  /** Always `none`: a document cannot establish a shared secret (draft §4.1); PKCE protects the code. */
  readonly tokenEndpointAuthMethod: 'none';
}

/** Resolves a document client_id (https URL) to a client, or throws ClientMetadataError. */
export interface ClientMetadataResolver {
  resolve(clientId: string): Promise<ClientMetadataDocumentClient>;
}

/**
 * True when `clientId` should be resolved as a metadata document at all: it looks like an https URL.
 * Registered client ids never start with `https://` in devicegate's config, so this is unambiguous.
 */
export function isClientMetadataDocumentId(clientId: string): boolean {
  return clientId.startsWith('https://');
}

/**
 * The draft's rules for a client_id URL (§3): https, a path component other than `/`, no `.`/`..`
 * segments, no fragment, no username or password. A query is allowed but discouraged. The URL must
 * be in its normalised form so that the exact-string comparison with the document's `client_id`
 * means what it says. Throws ClientMetadataError('invalid_client_id_url').
 */
export function assertClientIdUrl(clientId: string): URL {
  const refuse = (why: string) => new ClientMetadataError('invalid_client_id_url', `client_id ${why}`, clientId);
  if (clientId.length > MAX_URI_LENGTH) throw refuse('is too long');
  if (!URL.canParse(clientId)) throw refuse('is not a URL');
  const url = new URL(clientId);
  if (url.protocol !== 'https:') throw refuse('must be an https URL');
  if (url.username !== '' || url.password !== '') throw refuse('must not contain credentials');
  if (clientId.includes('#')) throw refuse('must not contain a fragment');
  if (url.pathname === '/' || url.pathname === '') throw refuse('must have a path');
  // WHATWG parsing removes dot segments and normalises case and escapes: compare with the input.
  if (url.href !== clientId || /\/\.\.?(\/|$)/.test(clientId)) throw refuse('must be a normalised URL without dot segments');
  return url;
}

const Uri = z.string().min(1).max(MAX_URI_LENGTH);

/**
 * The RFC 7591 fields devicegate reads. Unknown fields are ignored (RFC 7591 §2: extensions), but
 * fields that would make this a confidential client are refused rather than ignored.
 */
const DocumentSchema = z.looseObject({
  client_id: z.string(),
  client_name: z.string().max(MAX_CLIENT_NAME_LENGTH).optional(),
  redirect_uris: z.array(Uri).max(MAX_REDIRECT_URIS).optional(),
  grant_types: z.array(z.string()).max(20).optional(),
  response_types: z.array(z.string()).max(20).optional(),
  token_endpoint_auth_method: z.string().optional(),
  client_secret: z.unknown().optional(),
  client_secret_expires_at: z.unknown().optional(),
});

/**
 * Validates a fetched document for `clientId` (the URL it was fetched from). Throws
 * ClientMetadataError with `client_id_mismatch` or `invalid_document`.
 *
 * - `client_id` must equal the URL exactly (draft §4.1, simple string comparison).
 * - `token_endpoint_auth_method`: `none` or absent. RFC 7591's default (client_secret_basic) cannot
 *   apply: a public document can hold no secret, so absence means the only usable method, `none`;
 *   any shared-secret method, and any `client_secret`, is refused (draft §4.1).
 * - `grant_types` (RFC 7591 default `["authorization_code"]`): those devicegate can serve a public
 *   client are kept, others ignored; at least authorization_code or the device grant must remain.
 * - `redirect_uris`: required with authorization_code; absolute URIs without fragments (RFC 6749
 *   §3.1.2), https or loopback http (RFC 8252 §7.3) or a private-use scheme (RFC 8252 §7.1). A
 *   device-only document may omit them.
 */
export function parseClientMetadataDocument(clientId: string, document: unknown): ClientMetadataDocumentClient {
  const url = assertClientIdUrl(clientId);
  const invalid = (why: string) => new ClientMetadataError('invalid_document', `client metadata document ${why}`, clientId);
  const parsed = DocumentSchema.safeParse(document);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalid(`has an unusable ${issue?.path.join('.') || 'shape'}: ${issue?.message ?? 'invalid'}`);
  }
  const doc = parsed.data;
  if (doc.client_id !== clientId) {
    throw new ClientMetadataError('client_id_mismatch', `the document's client_id ${JSON.stringify(doc.client_id)} is not its URL`, clientId);
  }
  if (doc.client_secret !== undefined || doc.client_secret_expires_at !== undefined) throw invalid('must not contain a client_secret');
  if (doc.token_endpoint_auth_method !== undefined && doc.token_endpoint_auth_method !== 'none') {
    throw invalid(`uses token_endpoint_auth_method ${doc.token_endpoint_auth_method}; only none is supported for documents`);
  }
  const grantTypes = [...new Set(doc.grant_types ?? ['authorization_code'])].filter((grant): grant is CimdGrantType =>
    (CIMD_GRANT_TYPES as readonly string[]).includes(grant),
  );
  const usesCode = grantTypes.includes('authorization_code');
  if (!usesCode && !grantTypes.includes(DEVICE_CODE_GRANT)) throw invalid('lists neither authorization_code nor the device grant in grant_types');
  if (usesCode && doc.response_types !== undefined && !doc.response_types.includes('code')) throw invalid('uses authorization_code without response type code');
  const redirectUris = [...new Set(doc.redirect_uris ?? [])];
  if (usesCode && redirectUris.length === 0) throw invalid('uses authorization_code without redirect_uris');
  for (const uri of redirectUris) {
    const why = redirectUriProblem(uri);
    if (why) throw invalid(`has a redirect_uri ${JSON.stringify(uri)} that ${why}`);
  }
  return {
    clientId,
    host: url.host,
    clientName: doc.client_name,
    redirectUris,
    grantTypes,
    tokenEndpointAuthMethod: 'none',
  };
}

function redirectUriProblem(uri: string): string | null {
  if (!URL.canParse(uri)) return 'is not an absolute URI';
  const url = new URL(uri);
  if (uri.includes('#')) return 'has a fragment (RFC 6749 §3.1.2)';
  if (url.username !== '' || url.password !== '') return 'contains credentials';
  if (url.protocol === 'https:') return null;
  if (url.protocol === 'http:') return url.hostname === '127.0.0.1' || url.hostname === '[::1]' || url.hostname === 'localhost' ? null : 'uses http for a non-loopback host';
  // RFC 8252 §7.1 private-use schemes (reverse domain names); refuse script-capable schemes outright.
  if (['javascript:', 'data:', 'file:', 'vbscript:', 'blob:', 'about:'].includes(url.protocol)) return 'uses a forbidden scheme';
  return null;
}
