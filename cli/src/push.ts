import { httpOrigin, loadConfig, localAddress, sandboxPorts } from '@wxim/config';
import { decodeRelayCustomData } from '@wxim/im';
import { type ReceivedMessage, WechatPlatform, fakeOpenId } from '@wxim/sandbox';
import { request } from 'undici';
import { scriptAccount } from './sandbox-account.js';

/**
 * `npm run sandbox:push -- "text" [openid] [--account second]`: one signed, encrypted push to the
 * local sandbox gateway, as WeChat sends it for the account (`default` without `--account`); then
 * waits to see it reach an agent in the account's IM app in the IM simulator.
 */
const { args, account } = scriptAccount(process.argv.slice(2));
const [text = 'hello from the sandbox', openid = fakeOpenId()] = args;
const config = loadConfig();
const ports = sandboxPorts(config);
// Where the sandbox's parts, and in sandbox mode the gateway, listen: LOCAL_BIND.
const local = (port: number) => httpOrigin(localAddress(config), port);
const wechat = new WechatPlatform({
  gatewayUrl: local(config.ports.gateway),
  pushPath: account.pushPath,
  token: account.account.token,
  appId: account.account.appId,
  encodingAesKey: account.account.encodingAesKey,
  accountId: account.account.accountId,
  mode: 'safe',
  // WeChat knows the customer wrote: its customer-service window opens for the agent's replies.
  apiSimulatorUrl: local(ports.wechatApi),
});
const push = wechat.text(openid, text);
const res = await wechat.push(push);
process.stdout.write(`customer ${openid} of ${account.account.id} sent "${text}": the gateway answered ${res.status} ${res.reply ?? res.body}\n`);
if (res.status !== 200) process.exit(1);

const msgId = push.kind === 'text' ? push.msgId : '';
const deadline = Date.now() + 5000;
while (Date.now() < deadline) {
  const sim = await request(`${local(ports.im)}/sim/messages${account.imQuery}`);
  const messages = (await sim.body.json()) as ReceivedMessage[];
  const arrived = messages.find((m) => {
    const data = decodeRelayCustomData(m.cloudCustomData);
    return data?.source === 'wechat' && data.msgId === msgId;
  });
  if (arrived) {
    process.stdout.write(`agent ${arrived.to} received it in IM from ${arrived.from}: ${JSON.stringify(arrived.body)}\n`);
    process.exit(0);
  }
  await new Promise((r) => setTimeout(r, 100));
}
process.stdout.write('it has not reached the IM simulator within 5 s: see the relay logs and /metrics\n');
process.exit(1);
