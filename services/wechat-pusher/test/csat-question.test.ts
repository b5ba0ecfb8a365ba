import { stateKeys } from '@wxim/state';
import { testRedisConnection } from '@wxim/testkit';
import type { CustomMessage, WechatApi } from '@wxim/wechat';
import t from 'tap';
import { CsatQuestion } from '../src/csat.js';
import { unrecordedWindow } from './delivery-stand-ins.js';

// The rating question on a real Redis; WeChat's send is a stand-in that runs its beforeSend as the
// client does, then records what it sent.
const { redis } = await testRedisConnection(t);
const keys = stateKeys('{csat-question}');
const quiet = { info: () => {}, warn: () => {} };

function wechatRecording(sent: CustomMessage[]): WechatApi {
  return {
    async sendCustom(message: CustomMessage, options: { beforeSend: (api: string) => Promise<boolean> }) {
      if (!(await options.beforeSend('message/custom/send'))) return false;
      sent.push(message);
      return true;
    },
  } as unknown as WechatApi;
}

t.test('a question WeChat took stays asked and answerable when Redis fails right after the send', async (t) => {
  const sent: CustomMessage[] = [];
  const openid = 'oCsatQuestion000000000000001';
  const question = new CsatQuestion({
    redis,
    keys,
    wechat: wechatRecording(sent),
    // The reply window's count fails as a lost connection would, once the question is out.
    window: {
      check: (openid, now) => unrecordedWindow.check(openid, now),
      exhaust: (openid, at) => unrecordedWindow.exhaust(openid, at),
      close: (openid, at) => unrecordedWindow.close(openid, at),
      consume: async () => {
        throw new Error('Connection is closed.');
      },
    },
    text: 'How did we do?',
    turn: async () => 0,
    log: quiet,
  });
  const asked = await question.ask(openid, 'agent_a', undefined);
  t.equal(sent.length, 1, 'the question went out');
  t.same(asked, { asked: true }, 'the agent is told it was asked');
  const records = await redis.keys(keys.csat('*'));
  t.equal(records.length, 1, 'its record is kept');
  t.equal(await redis.hget(records[0]!, 'openid'), openid, "so the customer's tap still counts");
});
