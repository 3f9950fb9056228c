import createClient, { type Client } from 'openapi-fetch';
import type { components, paths } from '../../generated/openapi.js';

export type DeviceAuthorizationParams = NonNullable<
  paths['/oauth/device/authorize']['post']['requestBody']
>['content']['application/x-www-form-urlencoded'];
export type DeviceAuthorizationResponse = components['schemas']['DeviceAuthorizationResponse'];
export type OAuthErrorBody = components['schemas']['OAuthError'];

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
}

/** The typed SDK: generated types (generated/openapi.ts) over openapi-fetch. */
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
      ...(options.fetch && { fetch: options.fetch }),
    });
  }

  /** RFC 8628 §3.1: request a device_code and user_code. Throws OAuthResponseError on an OAuth error. */
  async deviceAuthorization(params: DeviceAuthorizationParams): Promise<DeviceAuthorizationResponse> {
    const { data, error, response } = await this.raw.POST('/oauth/device/authorize', {
      body: params,
      bodySerializer: formBodySerializer,
      headers: { 'Content-Type': FORM_CONTENT_TYPE },
    });
    if (data) return data;
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
