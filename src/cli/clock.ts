/**
 * The CLI's clock, injected so tests never sleep. The same shape as the server's domain Clock, kept
 * apart because the CLI reaches the server only through the SDK (.dependency-cruiser.cjs).
 */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
