import { loadConfig, requireSettings, startOrExit } from '@wxim/config';
import closeWithGrace from 'close-with-grace';
import { createGateway } from './gateway.js';

await startOrExit('wechat-gateway', async () => {
  const config = loadConfig();
  requireSettings(config, ['WECHAT_TOKEN']);
  const gateway = await createGateway(config, { processMetrics: true });
  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err) gateway.app.log.error({ err }, 'shutting down after an error');
    else gateway.app.log.info({ signal }, 'shutting down');
    await gateway.close();
  });
  await gateway.app.listen({ host: '0.0.0.0', port: config.ports.gateway });
});
