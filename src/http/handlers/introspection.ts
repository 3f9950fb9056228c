import { IntrospectionRequest } from '../../contracts/introspection.js';
import type { Caller } from '../caller.js';
import { formEndpoint } from '../form-endpoint.js';

/** POST /oauth/introspect — RFC 7662. */
export const introspectionHandler = (callerFor: Caller) =>
  formEndpoint(callerFor, IntrospectionRequest, (procedures, input) => procedures.introspect(input));
