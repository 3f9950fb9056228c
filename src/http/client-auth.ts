import { InvalidClientError } from '../domain/errors.js';

/**
 * RFC 6749 §2.3.1 client_secret_basic: `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))`.
 * Returns undefined when the header is absent or uses another scheme; a malformed Basic header is
 * invalid_client (401, with WWW-Authenticate).
 */
export function parseBasicCredentials(header: string | undefined): { clientId: string; clientSecret: string } | undefined {
  if (!header) return undefined;
  const match = /^Basic[ ]+([A-Za-z0-9+/]+={0,2})[ ]*$/i.exec(header);
  if (!match) {
    if (/^Basic\b/i.test(header)) throw malformed();
    return undefined;
  }
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw malformed();
  try {
    const clientId = formDecode(decoded.slice(0, colon));
    const clientSecret = formDecode(decoded.slice(colon + 1));
    if (!clientId) throw malformed();
    return { clientId, clientSecret };
  } catch (error) {
    if (error instanceof InvalidClientError) throw error;
    throw malformed();
  }
}

const formDecode = (value: string) => decodeURIComponent(value.replace(/\+/g, ' '));
const malformed = () => new InvalidClientError('malformed Basic authorization header', { basicAttempted: true });
