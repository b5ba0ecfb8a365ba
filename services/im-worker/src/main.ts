import { loadConfig, requireSettings, startOrExit } from '@wxim/config';
import closeWithGrace from 'close-with-grace';
import { createImWorker } from './im-worker.js';

await startOrExit('im-worker', async () => {
  const config = loadConfig();
  requireSettings(config, ['IM_SDK_APP_ID', 'IM_SECRET_KEY', 'IM_AGENTS']);
  const imWorker = await createImWorker(config, { processMetrics: true });
  closeWithGrace({ delay: 30_000 }, async ({ signal, err }) => {
    if (err) imWorker.app.log.error({ err }, 'shutting down after an error');
    else imWorker.app.log.info({ signal }, 'shutting down: finishing jobs in flight');
    await imWorker.close();
  });
  await imWorker.app.listen({ host: '0.0.0.0', port: config.ports.imWorker });
  imWorker.start();
});
