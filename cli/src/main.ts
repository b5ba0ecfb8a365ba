import {
  DEFAULT_ACCOUNT,
  SANDBOX,
  SANDBOX_SECOND,
  addressOfBind,
  httpOrigin,
  isSandbox,
  loadConfig,
  requirePortsApart,
  startOrExit,
  withSandbox,
} from '@wxim/config';
import { dashboardService } from '@wxim/dashboard';
import { imCallbackService } from '@wxim/im-callback';
import { imWorkerService } from '@wxim/im-worker';
import { type ServiceDefinition, listenHost, runServices } from '@wxim/host';
import { type SandboxHost, startSandboxHost } from '@wxim/sandbox';
import { wechatGatewayService } from '@wxim/wechat-gateway';
import { wechatPusherService } from '@wxim/wechat-pusher';
import { ownRedisIfNone } from './own-redis.js';
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
  const redis = await ownRedisIfNone(config);
  let sandbox: SandboxHost | undefined;
  // Redis stops last: the services hand their jobs back to it first.
  const after = async () => {
    await sandbox?.close();
    await redis?.stop();
  };
  try {
    sandbox = isSandbox(config) ? await startSandboxHost(config) : undefined;
    await runServices(config, SERVICES, after);
  } catch (err) {
    await after();
    throw err;
  }
  if (sandbox !== undefined) {
    // As a person on this machine opens them: where each listens (in sandbox mode the gateway and im-callback on LOCAL_BIND).
    const at = (service: ServiceDefinition) => httpOrigin(addressOfBind(listenHost(service, config)), service.port(config));
    process.stdout.write(
      [
        '',
        sandboxGuide(config, sandbox),
        `  wechat-gateway  ${at(wechatGatewayService)}/wechat      (${SANDBOX_SECOND.id}'s at /wechat/${SANDBOX_SECOND.id}; /healthz, /readyz, /metrics)`,
        `  im-callback     ${at(imCallbackService)}/im/callback (/healthz, /readyz, /metrics)`,
        `  im-worker       ${at(imWorkerService)}/metrics     (/healthz, /readyz)`,
        `  wechat-pusher   ${at(wechatPusherService)}/metrics     (/healthz, /readyz)`,
        `  dashboard       ${at(dashboardService)}/             (the queues; ${SANDBOX_SECOND.id}'s at /accounts/${SANDBOX_SECOND.id}/; /metrics has their depth)`,
        `  Redis           ${redactedUrl(config.redisUrl)}${redis ? ` (the relay's own, data in ${redis.dir})` : ''}, keys under the prefix ${config.queuePrefix} (sandbox mode's own: a deployment's queues are not touched)`,
        '',
        `Or from another terminal, as a customer of ${DEFAULT_ACCOUNT} and then as the agent who serves them:`,
        '  npm run sandbox:push -- "hello from WeChat"',
        `  npm run sandbox:reply -- "hello from the agent"    (agents: ${SANDBOX.imAgents.join(', ')})`,
        '',
      ].join('\n'),
    );
  }
});
