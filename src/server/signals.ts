// Shutdown on SIGTERM / SIGINT (or a request from a cluster primary): the first one starts a graceful stop, and the
// process exits when it is done.
import type { Logger } from 'pino';

/** Runs `stop` once on the first SIGTERM or SIGINT, then exits 0 (1 when stopping failed); returns the same trigger. */
export function stopOnSignals(logger: Logger, stop: (reason: string) => Promise<void>): (reason: string) => void {
  let stopping = false;
  const trigger = (reason: string) => {
    if (stopping) return;
    stopping = true;
    stop(reason).then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'stopping failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => trigger('SIGINT'));
  process.on('SIGTERM', () => trigger('SIGTERM'));
  return trigger;
}
