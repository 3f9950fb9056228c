import { randomUUID } from 'node:crypto';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  type InitializeRequest,
  isInitializeRequest,
  isJSONRPCErrorResponse,
  isJSONRPCRequest,
  isJSONRPCResultResponse,
  type JSONRPCMessage,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';

/** JSON-RPC error codes the proxy answers with itself (the implementation-defined server range, JSON-RPC 2.0 §5.1). */
export const ProxyErrorCode = {
  /** No access token could be had: the login failed, was declined, or the server refuses the token. */
  authorization: -32001,
  /** The MCP server could not be reached or answered with an HTTP error. */
  upstream: -32002,
} as const;

export interface ProxyError {
  readonly code: number;
  readonly message: string;
  readonly data?: Record<string, unknown>;
}

/** The answer to an `elicitation/create` request the proxy sent to the host. */
export interface ElicitResult {
  readonly action: 'accept' | 'decline' | 'cancel';
}

/**
 * Relays MCP JSON-RPC messages between the host (a stdio server transport) and the remote MCP server
 * (a Streamable HTTP client transport), unchanged, in both directions: requests, responses,
 * notifications and the server's own requests. The SDK transports do the framing; this only adds
 * what a relay needs to do itself:
 * - the host's `initialize` capabilities are noted (does it take URL-mode elicitations?), and the
 *   protocol version the remote answers with is set on the HTTP transport (its `MCP-Protocol-Version`
 *   header), as the SDK's Client would;
 * - a message the remote cannot take (authorization failed, unreachable) is answered to the host with
 *   a JSON-RPC error for its id (a notification gets none: JSON-RPC never answers those), never a hang;
 * - the proxy's own requests to the host (elicitations) carry ids of their own kind, and their answers
 *   are taken out of the stream.
 */
export class McpRelay {
  private hostCapabilities: InitializeRequest['params']['capabilities'] | undefined;
  private initializeId: RequestId | undefined;
  private readonly ownRequests = new Map<RequestId, (message: JSONRPCMessage) => void>();
  private closed = false;
  /** Failures already reported on stderr: the HTTP transport reports a failed send to onerror and then rejects. */
  private readonly reported = new WeakSet<object>();
  /** Resolves when either side has closed. */
  readonly done: Promise<void>;
  private resolveDone!: () => void;

  constructor(
    private readonly host: Transport,
    private readonly remote: Transport & { setProtocolVersion?(version: string): void; terminateSession?(): Promise<void> },
    private readonly describeFailure: (error: unknown) => ProxyError,
    private readonly log: (line: string) => void,
  ) {
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
  }

  async start(): Promise<void> {
    this.host.onmessage = (message) => this.fromHost(message);
    this.remote.onmessage = (message) => this.fromRemote(message);
    this.host.onclose = () => void this.close();
    this.host.onerror = (error) => this.log(`host stream: ${error.message}`);
    // The HTTP transport reports failures of its background SSE streams here; each request's own
    // failure is answered through send() below.
    this.remote.onerror = (error) => {
      if (this.closed) return;
      this.reported.add(error);
      this.log(this.describeFailure(error).message);
    };
    await this.remote.start();
    await this.host.start();
  }

  /** Whether the host declared `elicitation.url` (MCP 2025-11-25) in its `initialize`. */
  get hostTakesUrlElicitation(): boolean {
    const elicitation = this.hostCapabilities?.elicitation as Record<string, unknown> | undefined;
    return Boolean(elicitation && typeof elicitation === 'object' && elicitation.url);
  }

  /** Sends a URL-mode `elicitation/create` to the host; resolves with its answer. */
  async elicitUrl(params: { message: string; url: string; elicitationId: string }): Promise<ElicitResult> {
    const id = `devicegate-${randomUUID()}`;
    const answer = new Promise<JSONRPCMessage>((resolve) => this.ownRequests.set(id, resolve));
    await this.host.send({ jsonrpc: '2.0', id, method: 'elicitation/create', params: { mode: 'url', ...params } });
    const message = await answer;
    if (isJSONRPCResultResponse(message)) {
      const action = (message.result as { action?: unknown }).action;
      if (action === 'accept' || action === 'decline' || action === 'cancel') return { action };
      throw new Error(`the host answered the elicitation without a valid action`);
    }
    throw new Error(`the host refused the elicitation: ${isJSONRPCErrorResponse(message) ? message.error.message : 'no answer'}`);
  }

  /** Tells the host that the elicitation it opened is complete (MCP `notifications/elicitation/complete`). */
  async elicitationComplete(elicitationId: string): Promise<void> {
    if (!this.closed) await this.host.send({ jsonrpc: '2.0', method: 'notifications/elicitation/complete', params: { elicitationId } });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const resolve of this.ownRequests.values()) {
      resolve({ jsonrpc: '2.0', id: 'closed', error: { code: -32000, message: 'the host closed the connection' } });
    }
    // Ends the session at the server (DELETE with the session id), best effort and bounded.
    await Promise.race([this.remote.terminateSession?.().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
    await this.remote.close().catch(() => undefined);
    await this.host.close().catch(() => undefined);
    this.resolveDone();
  }

  private fromHost(message: JSONRPCMessage): void {
    if ((isJSONRPCResultResponse(message) || isJSONRPCErrorResponse(message)) && message.id !== undefined && this.ownRequests.has(message.id)) {
      const resolve = this.ownRequests.get(message.id)!;
      this.ownRequests.delete(message.id);
      resolve(message);
      return;
    }
    if (isInitializeRequest(message)) {
      this.hostCapabilities = message.params.capabilities;
      this.initializeId = (message as { id?: RequestId }).id;
    }
    this.remote.send(message).catch((error: unknown) => {
      if (this.closed) return;
      const failure = this.describeFailure(error);
      if (!(typeof error === 'object' && error !== null && this.reported.has(error))) this.log(failure.message);
      if (isJSONRPCRequest(message)) {
        this.host
          .send({ jsonrpc: '2.0', id: message.id, error: { code: failure.code, message: failure.message, ...(failure.data && { data: failure.data }) } })
          .catch(() => undefined);
      }
    });
  }

  private fromRemote(message: JSONRPCMessage): void {
    if (isJSONRPCResultResponse(message) && this.initializeId !== undefined && message.id === this.initializeId) {
      const version = (message.result as { protocolVersion?: unknown }).protocolVersion;
      if (typeof version === 'string') this.remote.setProtocolVersion?.(version);
    }
    this.host.send(message).catch((error: unknown) => this.log(`could not write to the host: ${error instanceof Error ? error.message : String(error)}`));
  }
}
