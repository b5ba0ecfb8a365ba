import { type Config, DEFAULT_ACCOUNT, SANDBOX_ACCOUNTS } from '@wxim/config';
import type { SandboxHost } from '@wxim/sandbox';

/** What sandbox mode tells whoever started it: where the page and the simulators are, and its two made-up accounts. */
export function sandboxGuide(config: Config, sandbox: SandboxHost): string {
  const open = config.localBind === '127.0.0.1' ? 'this machine only' : `listening on ${config.localBind} (LOCAL_BIND)`;
  const second = SANDBOX_ACCOUNTS[1]!;
  return [
    'Sandbox mode (SANDBOX=1, or no WeChat or IM credential configured): the relay runs against simulators of both platforms, with two made-up Official Accounts.',
    `  Sandbox page    ${sandbox.urls.page}/   (a customer and an agent chatting through the relay; pick the account at the top; ${open})`,
    ...SANDBOX_ACCOUNTS.map(
      (a) =>
        `  Account ${a.id.padEnd(8)}${a.appId}, pushes at /wechat${a.id === DEFAULT_ACCOUNT ? '' : `/${a.id}`}, IM app ${a.imSdkAppId} (agents ${a.imAgents.join(', ')})`,
    ),
    `  IM simulator    ${sandbox.urls.im}/sim/messages  (what the agents received; ?sdkappid=${second.imSdkAppId} for ${second.id}'s IM app)`,
    `  WeChat API sim  ${sandbox.urls.wechatApi}/sim/sent      (what customers received from agents; ?appid=${second.appId} for ${second.id}'s)`,
  ].join('\n');
}

/** A Redis URL as it may be shown: without its password, given before the host or (as ioredis also reads it) in the query. */
export function redactedUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password !== '') parsed.password = '***';
  for (const key of [...parsed.searchParams.keys()]) if (key.toLowerCase() === 'password') parsed.searchParams.set(key, '***');
  return parsed.toString();
}
