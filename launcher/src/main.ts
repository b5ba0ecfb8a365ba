import { SANDBOX, isSandbox, loadConfig, requirePortsApart, startOrExit, withSandbox } from '@wxim/config';
import { dashboardService } from '@wxim/dashboard';
import { imCallbackService } from '@wxim/im-callback';
import { imWorkerService } from '@wxim/im-worker';
import { runServices } from '@wxim/runtime';
import { type SandboxHost, startSandboxHost } from '@wxim/sandbox';
import { wechatGatewayService } from '@wxim/wechat-gateway';
import { wechatPusherService } from '@wxim/wechat-pusher';
import { redactedUrl, sandboxGuide } from './sandbox-guide.js';

/** Every service, in the order they start. */
const SERVICES = [wechatGatewayService, imCallbackService, dashboardService, imWorkerService, wechatPusherService];

/**
 * `npm start`: every service in this one process, each on its own port with its own endpoints.
 * With no WeChat or IM credential configured it runs in sandbox mode: the sandbox page on
 * SANDBOX_PORT, with simulators of Tencent IM and WeChat's API standing in for the platforms.
 */
await startOrExit('relay', async () => {
  const config = withSandbox(loadConfig());
  requirePortsApart(config, isSandbox(config));
  const sandbox: SandboxHost | undefined = isSandbox(config) ? await startSandboxHost(config) : undefined;
  try {
    await runServices(config, SERVICES, async () => sandbox?.close());
  } catch (err) {
    await sandbox?.close();
    throw err;
  }
  if (sandbox !== undefined) {
    process.stdout.write(
      [
        '',
        sandboxGuide(config, sandbox),
        `  wechat-gateway  http://127.0.0.1:${config.ports.gateway}/wechat      (/healthz, /readyz, /metrics)`,
        `  im-callback     http://127.0.0.1:${config.ports.callback}/im/callback (/healthz, /readyz, /metrics)`,
        `  im-worker       http://127.0.0.1:${config.ports.imWorker}/metrics     (/healthz, /readyz)`,
        `  wechat-pusher   http://127.0.0.1:${config.ports.pusher}/metrics     (/healthz, /readyz)`,
        `  dashboard       http://127.0.0.1:${config.ports.dashboard}/             (the queues; /metrics has their depth)`,
        `  Redis           ${redactedUrl(config.redisUrl)}, keys under the prefix ${config.queuePrefix} (sandbox mode's own: a deployment's queues are not touched)`,
        '',
        'Or from another terminal, as a customer and then as the agent who serves them:',
        '  npm run sandbox:push -- "hello from WeChat"',
        `  npm run sandbox:reply -- "hello from the agent"    (agents: ${SANDBOX.imAgents.join(', ')})`,
        '',
      ].join('\n'),
    );
  }
});
