import createClient, { type Client } from 'openapi-fetch';
import type { components, paths } from '../../generated/openapi.js';

type FormPath = '/oauth/device/authorize' | '/oauth/token' | '/oauth/revoke' | '/oauth/introspect';
type FormBody<P extends FormPath> = NonNullable<paths[P]['post']['requestBody']>['content']['application/x-www-form-urlencoded'];

export type DeviceAuthorizationParams = FormBody<'/oauth/device/authorize'>;
export type TokenParams = FormBody<'/oauth/token'>;
export type RevocationParams = FormBody<'/oauth/revoke'>;
export type IntrospectionParams = FormBody<'/oauth/introspect'>;
export type DeviceAuthorizationResponse = components['schemas']['DeviceAuthorizationResponse'];
export type TokenResponse = components['schemas']['TokenResponse'];
export type IntrospectionResponse = components['schemas']['IntrospectionResponse'];
export type AuthorizationServerMetadata = components['schemas']['AuthorizationServerMetadata'];
export type JsonWebKeySet = components['schemas']['JsonWebKeySet'];
export type OAuthErrorBody = components['schemas']['OAuthError'];

export const DEVICE_CODE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:device_code';
const FORM_CONTENT_TYPE = 'application/x-www-form-urlencoded';

/** A failed OAuth call: the RFC 6749 §5.2 body and the HTTP status. */
export class OAuthResponseError extends Error {
  override name = 'OAuthResponseError';
  readonly error: string;
  readonly errorDescription: string | undefined;
  constructor(
    readonly status: number,
    readonly body: OAuthErrorBody,
  ) {
    super(body.error_description ? `${body.error}: ${body.error_description}` : body.error);
    this.error = body.error;
    this.errorDescription = body.error_description;
  }
}

/**
 * openapi-fetch does not read the spec at run time, so the form encoding is explicit: arrays become
 * the same name repeated (RFC 8707 `resource`), undefined values are dropped.
 */
export function formBodySerializer(body: Record<string, unknown>): URLSearchParams {
  const form = new URLSearchParams();
  for (const [name, value] of Object.entries(body)) {
    if (value === undefined || value === null) continue;
    for (const item of Array.isArray(value) ? value : [value]) form.append(name, String(item));
  }
  return form;
}

export interface DeviceGateClientOptions {
  /** The issuer / base URL, e.g. https://auth.example.com */
  readonly baseUrl: string;
  /** For confidential clients: sent as HTTP Basic (RFC 6749 §2.3.1). */
  readonly clientSecretBasic?: { clientId: string; clientSecret: string };
  readonly fetch?: typeof globalThis.fetch;
  readonly headers?: Record<string, string>;
  /**
   * Absolute endpoint URLs to use instead of this server's own paths under `baseUrl`, typically from
   * another server's RFC 8414 metadata (see `discover()`): the request and response types stay the
   * generated ones, only the URL changes.
   */
  readonly endpoints?: EndpointUrls;
}

/** Absolute URLs of the endpoints, e.g. from RFC 8414 metadata. Unset ones use `baseUrl` + our path. */
export interface EndpointUrls {
  readonly deviceAuthorization?: string | null;
  readonly token?: string | null;
  readonly revocation?: string | null;
  readonly introspection?: string | null;
  readonly metadata?: string | null;
}

/** `null` in `endpoints`: the server does not offer that endpoint (it is absent from its metadata). */
export class EndpointNotAdvertisedError extends Error {
  override name = 'EndpointNotAdvertisedError';
  constructor(readonly endpoint: keyof EndpointUrls) {
    super(`the authorization server's metadata advertises no ${endpoint} endpoint`);
  }
}

/** Per-call options. */
export interface RequestOptions {
  /** Aborts the request (e.g. Ctrl-C, or a timeout via `AbortSignal.timeout`). */
  readonly signal?: AbortSignal;
}

const ENDPOINT_PATHS: Record<keyof EndpointUrls, keyof paths> = {
  deviceAuthorization: '/oauth/device/authorize',
  token: '/oauth/token',
  revocation: '/oauth/revoke',
  introspection: '/oauth/introspect',
  metadata: '/.well-known/oauth-authorization-server',
};

/** The typed SDK: generated types (generated/openapi.d.ts) over openapi-fetch. */
export class DeviceGateClient {
  readonly raw: Client<paths>;

  constructor(options: DeviceGateClientOptions) {
    const headers: Record<string, string> = { ...options.headers };
    if (options.clientSecretBasic) {
      const { clientId, clientSecret } = options.clientSecretBasic;
      const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
      headers.Authorization = `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64')}`;
    }
    this.raw = createClient<paths>({
      baseUrl: options.baseUrl.replace(/\/+$/, ''),
      headers,
      // OAuth answers never redirect; following one would re-send a form with codes or secrets to
      // wherever the Location points (RFC 6749 §4.1.2 redirects are for browsers, not this client).
      fetch: noRedirects(options.fetch ?? globalThis.fetch),
    });
    const overrides = new Map<string, { name: keyof EndpointUrls; url: string | null }>();
    for (const [name, url] of Object.entries(options.endpoints ?? {}) as [keyof EndpointUrls, string | null | undefined][]) {
      if (url !== undefined) overrides.set(ENDPOINT_PATHS[name], { name, url: url === null ? null : new URL(url).href });
    }
    if (overrides.size) {
      // openapi-fetch builds baseUrl + path; point the request at the absolute endpoint instead.
      this.raw.use({
        async onRequest({ request, schemaPath }) {
          const override = overrides.get(schemaPath);
          if (!override) return undefined;
          if (override.url === null) throw new EndpointNotAdvertisedError(override.name);
          const target = override.url;
          const body = request.method === 'GET' || request.method === 'HEAD' ? undefined : await request.arrayBuffer();
          return new Request(target, { method: request.method, headers: request.headers, body, signal: request.signal, redirect: request.redirect });
        },
      });
    }
  }

  /** RFC 8628 §3.1: request a device_code and user_code. */
  deviceAuthorization(params: DeviceAuthorizationParams, options?: RequestOptions): Promise<DeviceAuthorizationResponse> {
    return this.postForm('/oauth/device/authorize', params, options) as Promise<DeviceAuthorizationResponse>;
  }

  /**
   * RFC 8628 §3.4 / RFC 6749 §6: one token request. `authorization_pending`, `slow_down` and the
   * other polling answers arrive as OAuthResponseError with that `error`.
   */
  token(params: TokenParams, options?: RequestOptions): Promise<TokenResponse> {
    return this.postForm('/oauth/token', params, options) as Promise<TokenResponse>;
  }

  /** RFC 7009: revoke a refresh or access token. */
  async revoke(params: RevocationParams, options?: RequestOptions): Promise<void> {
    await this.postForm('/oauth/revoke', params, options);
  }

  /** RFC 7662 (confidential clients). */
  introspect(params: IntrospectionParams, options?: RequestOptions): Promise<IntrospectionResponse> {
    return this.postForm('/oauth/introspect', params, options) as Promise<IntrospectionResponse>;
  }

  /** RFC 8414 metadata. */
  async metadata(options?: RequestOptions): Promise<AuthorizationServerMetadata> {
    const { data, error, response } = await this.raw.GET('/.well-known/oauth-authorization-server', {
      ...(options?.signal && { signal: options.signal }),
    });
    if (data) return data;
    throw new OAuthResponseError(response.status, asOAuthErrorBody(error, response.status));
  }

  private async postForm(path: FormPath, params: object, options?: RequestOptions): Promise<unknown> {
    // One call site for every form endpoint; the path's own types are enforced by the public methods.
    const post = this.raw.POST as (path: FormPath, init: object) => ReturnType<Client<paths>['POST']>;
    const { data, error, response } = await post(path, {
      body: params,
      bodySerializer: formBodySerializer,
      headers: { 'Content-Type': FORM_CONTENT_TYPE },
      ...(options?.signal && { signal: options.signal }),
    });
    if (response.ok) return data;
    throw new OAuthResponseError(response.status, asOAuthErrorBody(error, response.status));
  }
}

/** A proxy or gateway in front may answer without an RFC 6749 body; keep the status visible. */
function asOAuthErrorBody(error: unknown, status: number): OAuthErrorBody {
  if (error && typeof error === 'object' && typeof (error as { error?: unknown }).error === 'string') {
    return error as OAuthErrorBody;
  }
  return { error: 'server_error', error_description: `unexpected HTTP ${status} without an OAuth error body` };
}

function noRedirects(fetchImpl: typeof globalThis.fetch): (request: Request) => Promise<Response> {
  return (request) => fetchImpl(new Request(request, { redirect: 'error' }));
}
