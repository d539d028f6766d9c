import { setTimeout as sleep } from 'node:timers/promises';
import closeWithGrace from 'close-with-grace';
import type { FastifyInstance } from 'fastify';

export interface RunOptions {
  /** Start-up work done after the port is open; `/ready` answers 503 until it has finished. */
  start?: (app: FastifyInstance) => Promise<void>;
}

/**
 * Listens, then wires graceful shutdown: on SIGTERM/SIGINT readiness turns 503, after the drain
 * delay the listener closes, in-flight requests finish and `onClose` hooks release databases and
 * caches, then the process exits 0. If that takes longer than the shutdown timeout it exits 1.
 */
export async function runService(app: FastifyInstance, options: RunOptions = {}): Promise<void> {
  const { config, lifecycle } = app.kit;
  const log = app.log;

  closeWithGrace(
    {
      delay: config.drainDelayMs + config.shutdownTimeoutMs,
      logger: { error: (msg: unknown) => log.error(msg) },
    },
    async ({ signal, err }) => {
      if (err) log.error({ err }, 'fatal error; shutting down');
      else log.info({ signal, drainDelayMs: config.drainDelayMs }, 'shutting down: readiness is now 503');
      lifecycle.drain();
      if (config.drainDelayMs > 0) await sleep(config.drainDelayMs);
      await app.close();
      log.info('stopped');
    },
  );

  try {
    await app.listen({ host: config.host, port: config.port });
    await options.start?.(app);
  } catch (err) {
    log.fatal({ err }, 'start-up failed');
    process.exit(1);
  }
  lifecycle.markReady();
  const address = app.server.address();
  log.info({ port: typeof address === 'object' && address ? address.port : config.port }, `${config.name} ready`);
}
