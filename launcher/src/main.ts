import { type Config, isSandbox, loadConfig, startOrExit } from '@wxim/config';
import { dashboardService } from '@wxim/dashboard';
import { imCallbackService } from '@wxim/im-callback';
import { imWorkerService } from '@wxim/im-worker';
import { runServices } from '@wxim/runtime';
import { ImSimulator, SANDBOX, WechatApiSimulator, sandboxEnv, sandboxPrefix } from '@wxim/sandbox';
import { wechatGatewayService } from '@wxim/wechat-gateway';
import { wechatPusherService } from '@wxim/wechat-pusher';

/** Every service, in the order they start. */
const SERVICES = [wechatGatewayService, imCallbackService, dashboardService, imWorkerService, wechatPusherService];

/**
 * `npm start`: every service in this one process, each on its own port with its own endpoints.
 * With no WeChat or IM credential configured it runs in sandbox mode: the IM simulator on
 * SANDBOX_PORT stands in for Tencent IM, and the sandbox WeChat credentials are used.
 */
await startOrExit('relay', async () => {
  let config: Config = loadConfig();
  const sandbox = isSandbox(config);
  let simulator: ImSimulator | undefined;
  let wechatApi: WechatApiSimulator | undefined;
  if (sandbox) {
    simulator = new ImSimulator({
      sdkAppId: SANDBOX.imSdkAppId,
      secretKey: SANDBOX.imSecretKey,
      admin: SANDBOX.imAdmin,
      agents: SANDBOX.imAgents,
      // Agents' sends (npm run sandbox:reply) reach im-callback as IM's signed callbacks.
      callback: { url: `http://127.0.0.1:${config.ports.callback}/im/callback`, token: SANDBOX.imCallbackToken },
    });
    wechatApi = new WechatApiSimulator({ appId: SANDBOX.appId, secret: SANDBOX.appSecret });
    // All interfaces, so that `docker compose up` can publish them; they hold nothing secret.
    await simulator.listen(config.ports.sandbox, '0.0.0.0');
    await wechatApi.listen(config.ports.sandbox + 1, '0.0.0.0');
    const imApiBase = `http://127.0.0.1:${config.ports.sandbox}`;
    const wechatApiBase = `http://127.0.0.1:${config.ports.sandbox + 1}`;
    // Keys of their own: a sandbox pointed at a real deployment's Redis must not drain its queue into the simulator.
    config = loadConfig({ ...process.env, ...sandboxEnv(imApiBase, wechatApiBase), QUEUE_PREFIX: sandboxPrefix(config.queuePrefix) });
  }
  await runServices(config, SERVICES, async () => {
    await simulator?.close();
    await wechatApi?.close();
  });

  if (sandbox) {
    process.stdout.write(
      [
        '',
        'Sandbox mode: no WeChat or IM credentials are configured, so the relay runs against simulators.',
        `  wechat-gateway  http://127.0.0.1:${config.ports.gateway}/wechat      (/healthz, /readyz, /metrics)`,
        `  im-callback     http://127.0.0.1:${config.ports.callback}/im/callback (/healthz, /readyz, /metrics)`,
        `  im-worker       http://127.0.0.1:${config.ports.imWorker}/metrics     (/healthz, /readyz)`,
        `  wechat-pusher   http://127.0.0.1:${config.ports.pusher}/metrics     (/healthz, /readyz)`,
        `  dashboard       http://127.0.0.1:${config.ports.dashboard}/             (the queues; /metrics has their depth)`,
        `  IM simulator    ${config.im.apiBase}/sim/messages  (what the agents ${SANDBOX.imAgents.join(' and ')} received)`,
        `  WeChat API sim  ${config.wechat.apiBase}/sim/sent      (what customers received from agents)`,
        `  Redis           ${redactedUrl(config.redisUrl)}, keys under the prefix ${config.queuePrefix} (sandbox mode's own: a deployment's queues are not touched)`,
        '',
        'Send a test message as a simulated WeChat customer, from another terminal:',
        '  npm run sandbox:push -- "hello from WeChat"',
        'and answer it as the agent (the reply goes through im-callback and wechat-pusher to the customer):',
        '  npm run sandbox:reply -- "hello from the agent"',
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
