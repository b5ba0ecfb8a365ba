import { loadConfig } from '@wxim/config';
import { SANDBOX, WechatPlatform, fakeOpenId } from '@wxim/sandbox';

/** `npm run sandbox:push -- "text" [openid]`: one signed, encrypted push to the local sandbox gateway. */
const [text = 'hello from the sandbox', openid = fakeOpenId()] = process.argv.slice(2);
const config = loadConfig();
const wechat = new WechatPlatform({
  gatewayUrl: `http://127.0.0.1:${config.ports.gateway}`,
  token: SANDBOX.token,
  appId: SANDBOX.appId,
  encodingAesKey: SANDBOX.encodingAesKey,
  accountId: SANDBOX.accountId,
  mode: 'safe',
});
const res = await wechat.push(wechat.text(openid, text));
process.stdout.write(`customer ${openid} sent "${text}": gateway answered ${res.status} ${res.reply ?? res.body}\n`);
process.exitCode = res.status === 200 ? 0 : 1;
