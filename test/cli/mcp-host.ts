import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ReadBuffer, serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { type ElicitRequest, ElicitRequestSchema, type JSONRPCMessage, JSONRPCMessageSchema, ListRootsRequestSchema, LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';

/**
 * The host side of a stdio MCP server, like the SDK's StdioClientTransport, but keeping every raw
 * stdout line so a test can check that nothing but JSON-RPC messages ever reached it, and all of
 * stderr so a test can read the code as a person would.
 */
export class RecordingStdioTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  readonly stdoutLines: string[] = [];
  stderr = '';
  private child: ChildProcessWithoutNullStreams | undefined;
  private readonly buffer = new ReadBuffer();
  private partial = '';
  private readonly stderrWaiters: { pattern: RegExp; from: number; resolve: (match: RegExpExecArray) => void }[] = [];
  readonly exited: Promise<number | null>;
  private resolveExit!: (code: number | null) => void;

  constructor(
    private readonly args: readonly string[],
    private readonly env: NodeJS.ProcessEnv,
  ) {
    this.exited = new Promise((resolve) => {
      this.resolveExit = resolve;
    });
  }

  async start(): Promise<void> {
    const child = spawn(process.execPath, ['bin/devicegate.mjs', 'mcp-proxy', ...this.args], { env: this.env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout.on('data', (chunk: Buffer) => {
      this.partial += chunk.toString('utf8');
      const lines = this.partial.split('\n');
      this.partial = lines.pop()!;
      this.stdoutLines.push(...lines);
      this.buffer.append(chunk);
      for (let message = this.buffer.readMessage(); message; message = this.buffer.readMessage()) this.onmessage?.(message);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
      for (const waiter of [...this.stderrWaiters]) {
        waiter.pattern.lastIndex = 0;
        const match = waiter.pattern.exec(this.stderr.slice(waiter.from));
        if (match) {
          this.stderrWaiters.splice(this.stderrWaiters.indexOf(waiter), 1);
          waiter.resolve(match);
        }
      }
    });
    child.on('error', (error) => this.onerror?.(error));
    child.on('close', (code) => {
      if (this.partial) this.stdoutLines.push(this.partial);
      this.resolveExit(code);
      this.onclose?.();
    });
  }

  /** Waits until stderr (from `from` on) matches `pattern`. */
  waitForStderr(pattern: RegExp, from = 0): Promise<RegExpExecArray> {
    const match = pattern.exec(this.stderr.slice(from));
    if (match) return Promise.resolve(match);
    return new Promise((resolve) => this.stderrWaiters.push({ pattern, from, resolve }));
  }

  async send(message: JSONRPCMessage): Promise<void> {
    this.child?.stdin.write(serializeMessage(message));
  }

  async close(): Promise<void> {
    this.child?.stdin.end();
    const exited = await Promise.race([this.exited.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 10_000))]);
    if (!exited) this.child?.kill('SIGKILL');
  }

  /** Every stdout line that is not one valid JSON-RPC message (should be none). */
  invalidStdoutLines(): string[] {
    return this.stdoutLines.filter((line) => {
      try {
        return !JSONRPCMessageSchema.safeParse(JSON.parse(line)).success;
      } catch {
        return true;
      }
    });
  }
}

/** The code block `devicegate login` prints on stderr: the verification URI and the code. */
export const CODE_ON_STDERR = /open this page in a browser on any device:\s+(\S+)\s+and enter the code:\s+([A-Z2-9]{4}-[A-Z2-9]{4})/;

export interface Host {
  readonly client: Client;
  readonly transport: RecordingStdioTransport;
  readonly elicitations: ElicitRequest['params'][];
  /** `notifications/message` the server sent (their `data`). */
  readonly logMessages: unknown[];
}

/**
 * An MCP host: the SDK Client, declaring roots (answered with one root) and, when asked, URL-mode
 * elicitation, handled by `onElicit`.
 */
export function createHost(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  onElicit?: (params: ElicitRequest['params']) => Promise<{ action: 'accept' | 'decline' | 'cancel' }>,
): Host {
  const client = new Client(
    { name: 'test-host', version: '1.0.0' },
    { capabilities: { roots: {}, ...(onElicit && { elicitation: { url: {} } }) } },
  );
  const elicitations: ElicitRequest['params'][] = [];
  const logMessages: unknown[] = [];
  client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => {
    logMessages.push(notification.params.data);
  });
  client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [{ uri: 'file:///work/project', name: 'project' }] }));
  if (onElicit) {
    client.setRequestHandler(ElicitRequestSchema, async (request) => {
      elicitations.push(request.params);
      return onElicit(request.params);
    });
  }
  return { client, transport: new RecordingStdioTransport(args, env), elicitations, logMessages };
}
