import { httpOrigin, loadConfig, localAddress, sandboxPorts } from '@wxim/config';
import { decodeRelayCustomData } from '@wxim/im';
import type { DeliveredMessage, ReceivedMessage } from '@wxim/sandbox';
import { request } from 'undici';
import { scriptAccount } from './sandbox-account.js';

/**
 * `npm run sandbox:reply -- "text" [openid] [--account second]`: the simulated agent who serves the
 * customer (the latest one of the account to write, or `openid`) answers in the account's IM app;
 * the IM simulator calls im-callback back as IM does, and this waits to see the reply reach the
 * customer through the account's simulated WeChat API, or a relay notice come back to the agent.
 */
const { args, account } = scriptAccount(process.argv.slice(2));
const [text = 'hello from the agent', openid] = args;
const config = loadConfig();
const ports = sandboxPorts(config);
// The simulators listen on LOCAL_BIND.
const im = httpOrigin(localAddress(config), ports.im);
const wechatApi = httpOrigin(localAddress(config), ports.wechatApi);

const json = async <T>(url: string, body?: object): Promise<T> => {
  const res = await request(url, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return (await res.body.json()) as T;
};
/** The customer a message relays the words of, by the relay's mark on it. */
const customerOf = (m: ReceivedMessage): string | undefined => {
  const data = decodeRelayCustomData(m.cloudCustomData);
  return data?.source === 'wechat' ? data.openid : undefined;
};
const last = (await json<ReceivedMessage[]>(`${im}/sim/messages${account.imQuery}`))
  .filter((m) => customerOf(m) !== undefined && (openid === undefined || customerOf(m) === openid))
  .at(-1);
const customer = last === undefined ? undefined : customerOf(last);
if (last === undefined || customer === undefined) {
  const again = account.imQuery === '' ? '' : ` --account ${account.account.id}`;
  process.stdout.write(`no customer of ${account.account.id} has written yet: send one first with npm run sandbox:push -- "hello"${again}\n`);
  process.exit(1);
}
const sent = await json<{ delivered?: boolean; error?: string }>(`${im}/sim/agent-send${account.imQuery}`, {
  From_Account: last.to,
  To_Account: last.from,
  MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: text } }],
});
if (sent.error !== undefined) {
  process.stdout.write(`the IM simulator refused the send: ${sent.error}\n`);
  process.exit(1);
}
process.stdout.write(`agent ${last.to} answered customer ${customer} in IM: "${text}" (im-callback ${sent.delivered ? 'took it' : 'did not answer'})\n`);

const deadline = Date.now() + 5000;
while (Date.now() < deadline) {
  const arrived = (await json<DeliveredMessage[]>(`${wechatApi}/sim/sent${account.wechatQuery}`)).find(
    (m) => m.openid === customer && m.payload['content'] === text,
  );
  if (arrived) {
    process.stdout.write(`customer ${customer} received it in WeChat (customer-service message, ${arrived.msgtype})\n`);
    process.exit(0);
  }
  const notice = (await json<ReceivedMessage[]>(`${im}/sim/messages${account.imQuery}`)).find(
    (m) => m.to === last.to && decodeRelayCustomData(m.cloudCustomData)?.source === 'relay-notice' && JSON.stringify(m.body).includes(text.slice(0, 20)),
  );
  if (notice) {
    process.stdout.write(`the relay told the agent it was not delivered: ${String(notice.body[0]?.MsgContent['Text'])}\n`);
    process.exit(1);
  }
  await new Promise((r) => setTimeout(r, 100));
}
process.stdout.write('it has not reached the customer within 5 s: see the relay logs and /metrics\n');
process.exit(1);
