import { initTRPC } from '@trpc/server';
import type { OpenApiMeta } from 'trpc-to-openapi';
import type { RequestContext } from '../app/services.js';

/** tRPC, for the contract registry only: no request passes through it (see router.ts). */
export const t = initTRPC.context<RequestContext>().meta<OpenApiMeta>().create();
