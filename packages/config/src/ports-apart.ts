import type { Config } from './config.js';
import { ConfigError } from './config-error.js';
import { sandboxPorts } from './sandbox-mode.js';

/**
 * For services that share one host (`npm start`): every port is its own, the sandbox's three
 * included when it runs. Services apart (containers, pods) may well share a number.
 */
export function requirePortsApart(config: Config, withSandbox: boolean): void {
  const sandbox = sandboxPorts(config);
  const ports: [string, number][] = [
    ['GATEWAY_PORT', config.ports.gateway],
    ['CALLBACK_PORT', config.ports.callback],
    ['DASHBOARD_PORT', config.ports.dashboard],
    ['IM_WORKER_PORT', config.ports.imWorker],
    ['PUSHER_PORT', config.ports.pusher],
    ...(withSandbox
      ? ([
          ['SANDBOX_PORT', sandbox.page],
          ['SANDBOX_PORT + 1 (the IM simulator)', sandbox.im],
          ['SANDBOX_PORT + 2 (the WeChat API simulator)', sandbox.wechatApi],
        ] as [string, number][])
      : []),
  ];
  const seen = new Map<number, string>();
  for (const [name, port] of ports) {
    if (port === 0) continue; // any free port
    const other = seen.get(port);
    if (other !== undefined) throw new ConfigError(name, `is the same port as ${other} (${port})`, 'a port of its own for each service in this process');
    seen.set(port, name);
  }
}
