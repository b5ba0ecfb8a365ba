import type { Config } from '@wxim/config';
import type { SandboxHost } from '@wxim/sandbox';

/** What sandbox mode tells whoever started it: where the page and the simulators are. */
export function sandboxGuide(config: Config, sandbox: SandboxHost): string {
  const open = config.localBind === '127.0.0.1' ? 'this machine only' : `listening on ${config.localBind} (LOCAL_BIND)`;
  return [
    'Sandbox mode (SANDBOX=1, or no WeChat or IM credential configured): the relay runs against simulators of both platforms.',
    `  Sandbox page    ${sandbox.urls.page}/   (a customer and an agent chatting through the relay; ${open})`,
    `  IM simulator    ${sandbox.urls.im}/sim/messages  (what the agents received)`,
    `  WeChat API sim  ${sandbox.urls.wechatApi}/sim/sent      (what customers received from agents)`,
  ].join('\n');
}

/** A Redis URL as it may be shown: without its password. */
export function redactedUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password !== '') parsed.password = '***';
  return parsed.toString();
}
