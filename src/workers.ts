import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';

/**
 * WORKERS=N (README, "Every core"): this process becomes the node:cluster primary and runs N worker
 * processes, each a whole devicegate server (its own event loop, Redis connection and metrics) sharing
 * the listening port: the primary accepts connections and hands them out in turn. The workers share
 * nothing in memory, which is why config refuses WORKERS > 1 without Redis: grants, tokens, keys and
 * limits must live in the shared store.
 *
 * A worker that dies unexpectedly is replaced (after a short pause, so a worker that cannot start does
 * not spin); SIGTERM/SIGINT is passed to every worker, which drains as a single process would, and the
 * primary exits once all have.
 */
export function runWorkerPrimary(count: number, logger: Logger): void {
  let stopping = false;
  const fork = () => {
    const worker = cluster.fork();
    worker.once('exit', (code, signal) => onExit(worker, code, signal));
  };
  const onExit = (worker: Worker, code: number | null, signal: string | null) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    // 78 (configuration) and 69 (store unreachable at start): every replacement would fail the same way.
    if (code === 78 || code === 69) {
      logger.fatal({ worker: worker.process.pid, code }, 'a worker could not start; stopping');
      stop('worker-start-failure', code);
      return;
    }
    logger.error({ worker: worker.process.pid, code, signal }, 'worker exited; starting a new one');
    setTimeout(fork, 500).unref();
  };
  const stop = (signal: string, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping workers');
    const workers = Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker !== undefined);
    if (workers.length === 0) process.exit(exitCode);
    for (const worker of workers) worker.process.kill('SIGTERM');
    if (exitCode !== 0) process.exitCode = exitCode;
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  for (let i = 0; i < count; i++) fork();
  logger.info({ workers: count }, 'devicegate primary: workers starting');
}

/** True in the process that should run the HTTP server (no workers, or a worker). */
export function servesHttp(workers: number | undefined): boolean {
  return (workers ?? 1) <= 1 || cluster.isWorker;
}
