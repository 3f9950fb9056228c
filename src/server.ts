import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import type { Config } from './config.js';
import { ClientRegistry } from './domain/clients.js';
import { type Clock, systemClock } from './domain/clock.js';
import { createApp } from './http/app.js';
import { MemoryDeviceGrantRepository } from './store/memory.js';
import { RedisDeviceGrantRepository } from './store/redis.js';
import type { DeviceGrantRepository } from './store/repository.js';
import type { Services } from './trpc/trpc.js';

export interface RunningServer {
  readonly url: string;
  readonly store: DeviceGrantRepository;
  readonly services: Services;
  close(): Promise<void>;
}

export interface StartOptions {
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Use this repository instead of the one the config selects (tests). */
  readonly store?: DeviceGrantRepository;
}

export async function openStore(config: Config, clock: Clock): Promise<DeviceGrantRepository> {
  return config.redisUrl ? RedisDeviceGrantRepository.connect(config.redisUrl) : new MemoryDeviceGrantRepository(clock);
}

/** Wires config → store → services → Koa and listens. Port 0 picks a free port (tests). */
export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? pino({ level: config.logLevel });
  const store = options.store ?? (await openStore(config, clock));
  const services: Services = {
    clients: new ClientRegistry(config.file.clients),
    deviceAuthorization: { store, clock, issuer: config.issuer, defaultPolicy: config.file.device_code },
  };
  const app = createApp({ services, logger });
  const server: Server = await new Promise((resolve, reject) => {
    const listening = app.listen(config.port, config.host, () => resolve(listening)).once('error', reject);
  });
  // Slow-loris guard: a client gets this long to send a request.
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`,
    store,
    services,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await store.close();
    },
  };
}
