import { loadConfig, requireSettings, startOrExit } from '@wxim/config';
import { closeOnSignal } from '@wxim/runtime';
import { createGateway } from './gateway.js';

await startOrExit('wechat-gateway', async () => {
  const config = loadConfig();
  requireSettings(config, ['WECHAT_TOKEN']);
  const gateway = await createGateway(config, { processMetrics: true });
  closeOnSignal(gateway.app.log, () => gateway.close(), 10_000);
  await gateway.app.listen({ host: '0.0.0.0', port: config.ports.gateway });
});
