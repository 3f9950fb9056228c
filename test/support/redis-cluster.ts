import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort } from './redis-server.js';

const run = promisify(execFile);

/**
 * A private Redis Cluster for one test file: three masters and three replicas, each a redis-server
 * process on a free port (`--cluster-enabled yes`), joined with `redis-cli --cluster create
 * --cluster-replicas 1`. Nothing on disk beyond each node's nodes.conf in a temporary directory.
 * cluster-node-timeout is short (1 s) so that a killed master's replica is promoted within seconds.
 */
export interface TestRedisCluster {
  /** Seed URLs, as REDIS_CLUSTER_NODES takes them. */
  readonly urls: string[];
  /** A fresh key prefix so tests sharing the cluster never see each other's keys. */
  prefix(): string;
  /** The port of the master serving `key`'s slot now. */
  masterPortFor(key: string): Promise<number>;
  /** SIGKILL the node on `port` (a crashed master: its replica takes over after cluster-node-timeout). */
  kill(port: number): Promise<void>;
  /** Resolves once every live node reports cluster_state:ok and every slot's master is a live node. */
  waitUntilHealthy(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

const NODE_TIMEOUT_MS = 1_000;

export async function startTestRedisCluster(): Promise<TestRedisCluster> {
  const directory = mkdtempSync(join(tmpdir(), 'devicegate-cluster-'));
  const nodes = new Map<number, ChildProcess>();
  const ports: number[] = [];
  for (let i = 0; i < 6; i++) {
    let port = await freePort();
    // Cluster bus port is port + 10000: it must be free too (and below 65536).
    while (port > 55_000 || ports.includes(port)) port = await freePort();
    ports.push(port);
  }
  for (const port of ports) {
    const child = spawn(
      'redis-server',
      [
        '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
        '--cluster-enabled', 'yes', '--cluster-config-file', join(directory, `nodes-${port}.conf`),
        '--cluster-node-timeout', String(NODE_TIMEOUT_MS), '--dir', directory,
        // A replica must take over whatever its last contact with the master was (tests kill masters).
        '--cluster-replica-validity-factor', '0',
      ],
      { stdio: 'ignore' },
    );
    nodes.set(port, child);
  }
  const close = async () => {
    await Promise.all(
      [...nodes.values()].map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }),
    );
    rmSync(directory, { recursive: true, force: true });
  };
  try {
    await Promise.all(ports.map(waitForPing));
    await run('redis-cli', ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '1', '--cluster-yes'], {
      timeout: 30_000,
    });
  } catch (error) {
    await close();
    throw error;
  }

  const livePorts = () => ports.filter((port) => nodes.get(port)!.exitCode === null && nodes.get(port)!.signalCode === null);
  const waitUntilHealthy = async (timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const live = livePorts();
      const states = await Promise.all(live.map((port) => clusterInfo(port).catch(() => '')));
      // Every live node agrees the cluster is whole, and every slot's master is a live process (a
      // killed master stays listed until the others mark it failed and promote its replica).
      const masters = await Promise.all(live.map((port) => slotMasterPorts(port).catch(() => [-1])));
      if (
        states.every((info) => /cluster_state:ok/.test(info) && /cluster_slots_ok:16384/.test(info)) &&
        masters.every((ports) => ports.every((port) => live.includes(port)))
      ) {
        return;
      }
      if (Date.now() > deadline) throw new Error(`cluster not healthy after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  await waitUntilHealthy();

  return {
    urls: ports.slice(0, 3).map((port) => `redis://127.0.0.1:${port}`),
    prefix: () => `devicegate-test:${randomBytes(6).toString('hex')}:`,
    async masterPortFor(key) {
      const slot = keySlot(key);
      for (const port of livePorts()) {
        const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null });
        client.on('error', () => {});
        try {
          await client.connect();
          const ranges = (await client.call('CLUSTER', 'SLOTS')) as [number, number, [string, number, string]][];
          const owner = ranges.find(([start, end]) => slot >= start && slot <= end);
          if (owner) return owner[2][1];
        } catch {
          // a node that is going away: ask the next one
        } finally {
          client.disconnect();
        }
      }
      throw new Error(`no node knows slot ${slot}`);
    },
    async kill(port) {
      const child = nodes.get(port);
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
    waitUntilHealthy,
    close,
  };
}

async function slotMasterPorts(port: number): Promise<number[]> {
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  client.on('error', () => {});
  try {
    await client.connect();
    const ranges = (await client.call('CLUSTER', 'SLOTS')) as [number, number, [string, number, string]][];
    return ranges.map((range) => range[2][1]);
  } finally {
    client.disconnect();
  }
}

async function clusterInfo(port: number): Promise<string> {
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.call('CLUSTER', 'INFO')) as string;
  } finally {
    client.disconnect();
  }
}

async function waitForPing(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => {});
    try {
      await client.connect();
      if ((await client.ping()) === 'PONG') return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 25));
    } finally {
      client.disconnect();
    }
  }
  throw new Error(`redis-server on ${port} did not answer`);
}

/**
 * The Redis Cluster hash slot of a key (CRC16-XMODEM of the hash tag, or of the key, mod 16384), as
 * the Redis Cluster specification defines it: tests check key names share a slot with it, computed
 * independently of the code under test.
 */
export function keySlot(key: string): number {
  const bytes = Buffer.from(key);
  const open = bytes.indexOf('{');
  let hashed = bytes;
  if (open !== -1) {
    const close = bytes.indexOf('}', open + 1);
    if (close > open + 1) hashed = bytes.subarray(open + 1, close);
  }
  let crc = 0;
  for (const byte of hashed) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}
