import { type Config, isSandbox, loadConfig, requireSettings, startOrExit } from '@wxim/config';
import { createImWorker } from '@wxim/im-worker';
import { closeOnSignal } from '@wxim/runtime';
import { ImSimulator, SANDBOX, sandboxEnv, sandboxPrefix } from '@wxim/sandbox';
import { createGateway } from '@wxim/wechat-gateway';

/**
 * `npm start`: every service in this one process, each on its own port with its own endpoints.
 * With no WeChat or IM credential configured it runs in sandbox mode: the IM simulator on
 * SANDBOX_PORT stands in for Tencent IM, and the sandbox WeChat credentials are used.
 */
await startOrExit('relay', async () => {
  let config: Config = loadConfig();
  const sandbox = isSandbox(config);
  let simulator: ImSimulator | undefined;
  if (sandbox) {
    simulator = new ImSimulator({ sdkAppId: SANDBOX.imSdkAppId, secretKey: SANDBOX.imSecretKey, admin: SANDBOX.imAdmin, agents: SANDBOX.imAgents });
    // All interfaces, so that `docker compose up` can publish it; it holds nothing secret.
    await simulator.listen(config.ports.sandbox, '0.0.0.0');
    const imApiBase = `http://127.0.0.1:${config.ports.sandbox}`;
    // Keys of their own: a sandbox pointed at a real deployment's Redis must not drain its queue into the simulator.
    config = loadConfig({ ...process.env, ...sandboxEnv(imApiBase), QUEUE_PREFIX: sandboxPrefix(config.queuePrefix) });
  }
  requireSettings(config, ['WECHAT_TOKEN', 'IM_SDK_APP_ID', 'IM_SECRET_KEY', 'IM_AGENTS']);

  const gateway = await createGateway(config, { processMetrics: true });
  const imWorker = await createImWorker(config);
  closeOnSignal(
    gateway.app.log,
    async () => {
      await gateway.close(); // stop taking pushes first
      await imWorker.close(); // then finish what is in flight
      await simulator?.close();
    },
    30_000,
  );
  await gateway.app.listen({ host: '0.0.0.0', port: config.ports.gateway });
  await imWorker.app.listen({ host: '0.0.0.0', port: config.ports.imWorker });
  imWorker.start();

  if (sandbox) {
    process.stdout.write(
      [
        '',
        'Sandbox mode: no WeChat or IM credentials are configured, so the relay runs against simulators.',
        `  wechat-gateway  http://127.0.0.1:${config.ports.gateway}/wechat      (/healthz, /readyz, /metrics)`,
        `  im-worker       http://127.0.0.1:${config.ports.imWorker}/metrics     (/healthz, /readyz)`,
        `  IM simulator    ${config.im.apiBase}/sim/messages  (what the agents ${SANDBOX.imAgents.join(' and ')} received)`,
        `  Redis           ${redactedUrl(config.redisUrl)}, keys under the prefix ${config.queuePrefix} (sandbox mode's own: a deployment's queues are not touched)`,
        '',
        'Send a test message as a simulated WeChat customer, from another terminal:',
        '  npm run sandbox:push -- "hello from WeChat"',
        '',
      ].join('\n'),
    );
  }
});

/** A Redis URL as it may be shown: without its password. */
function redactedUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password !== '') parsed.password = '***';
  return parsed.toString();
}
