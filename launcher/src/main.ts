import { type Config, isSandbox, loadConfig, startOrExit } from '@wxim/config';
import { imWorkerService } from '@wxim/im-worker';
import { runServices } from '@wxim/runtime';
import { ImSimulator, SANDBOX, sandboxEnv, sandboxPrefix } from '@wxim/sandbox';
import { wechatGatewayService } from '@wxim/wechat-gateway';

/** Every service, in the order they start. */
const SERVICES = [wechatGatewayService, imWorkerService];

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
  await runServices(config, SERVICES, async () => simulator?.close());

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
