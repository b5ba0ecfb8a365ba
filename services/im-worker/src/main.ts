import { loadConfig, requireSettings, startOrExit } from '@wxim/config';
import { closeOnSignal } from '@wxim/runtime';
import { createImWorker } from './im-worker.js';

await startOrExit('im-worker', async () => {
  const config = loadConfig();
  requireSettings(config, ['IM_SDK_APP_ID', 'IM_SECRET_KEY', 'IM_AGENTS']);
  const imWorker = await createImWorker(config, { processMetrics: true });
  // The worker finishes its jobs in flight (at most 15 s, see createImWorker) before exiting.
  closeOnSignal(imWorker.app.log, () => imWorker.close(), 30_000);
  await imWorker.app.listen({ host: '0.0.0.0', port: config.ports.imWorker });
  imWorker.start();
});
