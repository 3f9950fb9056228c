import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBody } from '../../src/http/form.js';

/** readBody on a real node:http server: what it resolved or rejected with, per request. */
describe('readBody', () => {
  let server: Server;
  let port: number;
  const outcomes: Array<{ text?: string; status?: number; message?: string }> = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      readBody(req, 16).then(
        (text) => {
          outcomes.push({ text });
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ text }));
        },
        (error: { status: number; message: string }) => {
          outcomes.push({ status: error.status, message: error.message });
          res.writeHead(error.status, { 'content-type': 'application/json' }).end(JSON.stringify({ message: error.message }));
        },
      );
    }).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  /** Sends the body in the given chunks (chunked transfer encoding when no length is given). */
  function send(chunks: Buffer[], contentLength?: number): Promise<{ status: number; body: { text?: string; message?: string } }> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = contentLength === undefined ? {} : { 'content-length': contentLength };
      const req = request({ host: '127.0.0.1', port, method: 'POST', headers }, (res) => {
        let data = '';
        res.on('data', (chunk) => (data += chunk)).on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(data) }));
      });
      req.on('error', reject);
      for (const chunk of chunks) req.write(chunk);
      req.end();
    });
  }

  it('joins a body sent in pieces, a UTF-8 character split between them included', async () => {
    const bytes = Buffer.from('a=é&b=☃', 'utf8');
    const answer = await send([bytes.subarray(0, 3), bytes.subarray(3, 9), bytes.subarray(9)]);
    expect(answer).toEqual({ status: 200, body: { text: 'a=é&b=☃' } });
  });

  it('refuses a declared Content-Length over the limit with 413 before reading it', async () => {
    const answer = await new Promise<string>((resolve) => {
      // Headers only: the 17 declared bytes never come, so only an answer given before reading ends this.
      const socket = connect(port, '127.0.0.1', () => socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 17\r\n\r\n'));
      socket.once('data', (data) => {
        socket.destroy();
        resolve(data.toString('latin1'));
      });
    });
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).toContain('request body exceeds 16 bytes');
  });

  it('refuses a chunked body once it passes the limit (413)', async () => {
    const answer = await send([Buffer.from('a'.repeat(10)), Buffer.from('b'.repeat(10))]);
    expect(answer).toEqual({ status: 413, body: { message: 'request body exceeds 16 bytes' } });
  });

  it('rejects a body the client stops sending half-way; the server goes on serving', async () => {
    outcomes.length = 0;
    await new Promise<void>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc');
        setTimeout(() => {
          socket.destroy();
          resolve();
        }, 50);
      });
    });
    await expect.poll(() => outcomes).toEqual([{ status: 400, message: 'request body could not be read' }]);
    expect(await send([Buffer.from('x=1')], 3)).toEqual({ status: 200, body: { text: 'x=1' } });
  });
});
