import closeWithGrace from 'close-with-grace';

interface Log {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/**
 * Graceful shutdown for a service process: on SIGTERM or SIGINT (or an uncaught error) run
 * `close` once, giving it `delayMs` before the process exits anyway.
 */
export function closeOnSignal(log: Log, close: () => Promise<void>, delayMs: number): void {
  closeWithGrace({ delay: delayMs }, async ({ signal, err }) => {
    if (err) log.error({ err }, 'shutting down after an error');
    else log.info({ signal }, 'shutting down');
    await close();
  });
}
