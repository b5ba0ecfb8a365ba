import { type Config, isSandbox, loadConfig, requireSettings, startOrExit } from '@wxim/config';
import { sandboxEnv } from '@wxim/sandbox';
import { createGateway } from '@wxim/wechat-gateway';
import closeWithGrace from 'close-with-grace';

/**
 * `npm start`: every service in this one process, each on its own port with its own endpoints.
 * With no WeChat or IM credential configured it runs in sandbox mode on made-up credentials.
 */
await startOrExit('relay', async () => {
  let config: Config = loadConfig();
  const sandbox = isSandbox(config);
  if (sandbox) config = loadConfig({ ...process.env, ...sandboxEnv() });
  requireSettings(config, ['WECHAT_TOKEN']);

  const gateway = await createGateway(config, { processMetrics: true });
  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err) gateway.app.log.error({ err }, 'shutting down after an error');
    else gateway.app.log.info({ signal }, 'shutting down');
    await gateway.close();
  });
  await gateway.app.listen({ host: '0.0.0.0', port: config.ports.gateway });

  if (sandbox) {
    process.stdout.write(
      [
        '',
        'Sandbox mode: no WeChat or IM credentials are configured, so the relay runs against simulators.',
        `  wechat-gateway  http://127.0.0.1:${config.ports.gateway}/wechat  (metrics: /metrics, readiness: /readyz)`,
        `  Redis           ${config.redisUrl}`,
        '',
        'Send a test message as a simulated WeChat customer, from another terminal:',
        '  npm run sandbox:push -- "hello from WeChat"',
        '',
      ].join('\n'),
    );
  }
});
