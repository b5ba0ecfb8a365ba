import { type Config, requireSettings, sandboxForService, withSandbox } from '@wxim/config';
import { buildForAccounts } from './account-front.js';
import { closeOnSignal } from './close-on-signal.js';
import { LISTEN_BACKLOG, type RunningService, type ServiceDefinition, listenHost } from './service-definition.js';

export interface Started {
  definition: ServiceDefinition;
  service: RunningService;
}

/**
 * Builds, listens and starts the services in this process, and closes them on SIGTERM: the HTTP
 * services first (no new pushes or callbacks), then the workers (finish what is in flight), then
 * `after` (e.g. the sandbox's simulators). In sandbox mode (`npm start` decides it; a service on
 * its own only when asked, see `sandboxForService`) they run against the sandbox.
 */
export async function runServices(configured: Config, definitions: readonly ServiceDefinition[], after?: () => Promise<void>): Promise<Started[]> {
  const config = sandboxForService(configured) ? withSandbox(configured) : configured;
  requireSettings(config, [...new Set(definitions.flatMap((d) => d.requires))]);
  const started: Started[] = [];
  for (const [i, definition] of definitions.entries()) {
    started.push({ definition, service: await buildForAccounts(definition, config, { processMetrics: i === 0 }) });
  }
  const log = started[0]!.service.app.log;
  if (config.sandboxed)
    log.warn(
      `sandbox mode (SANDBOX=1, or no WeChat or IM credential configured): the platforms are the sandbox's simulators at ${config.im.apiBase} and ${config.wechat.apiBase}, keys under ${config.queuePrefix}; set SANDBOX=0 to require real credentials`,
    );
  const ordered = [...started.filter((s) => s.definition.kind === 'http'), ...started.filter((s) => s.definition.kind === 'worker')];
  closeOnSignal(
    log,
    async () => {
      for (const { service } of ordered) await service.close();
      await after?.();
    },
    definitions.reduce((sum, d) => sum + d.shutdownMs, 0),
  );
  for (const { definition, service } of started)
    await service.app.listen({ host: listenHost(definition, config), port: definition.port(config), backlog: LISTEN_BACKLOG });
  for (const { service } of started) service.start?.();
  return started;
}
