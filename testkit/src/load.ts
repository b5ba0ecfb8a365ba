import type { WechatPlatform } from '@wxim/sandbox';
import { fakeOpenId } from '@wxim/sandbox';

export interface Conversation {
  openid: string;
  texts: string[];
}

/**
 * Customers writing at once, each one message after the other as a person does (the next push
 * after the previous was answered). A push that does not get 200 is sent again, as WeChat does.
 */
export async function converse(wechat: WechatPlatform, customers: number, perCustomer: number, onSent?: (n: number) => void): Promise<Conversation[]> {
  const conversations = Array.from({ length: customers }, (_, c) => ({
    openid: fakeOpenId(),
    texts: Array.from({ length: perCustomer }, (_, i) => `customer ${c} message ${i}`),
  }));
  let sent = 0;
  await Promise.all(
    conversations.map(async ({ openid, texts }) => {
      for (const text of texts) {
        const signed = wechat.sign(wechat.text(openid, text));
        for (let attempt = 0; ; attempt++) {
          const res = await wechat.post(signed).catch(() => ({ status: 0 }));
          if (res.status === 200) break;
          if (attempt > 200) throw new Error(`push not accepted after ${attempt} tries`);
          await new Promise((r) => setTimeout(r, 100));
        }
        onSent?.(++sent);
      }
    }),
  );
  return conversations;
}

/**
 * Pushes at a steady rate: `count` messages from `customers` in turn, one every 1/`perSecond`
 * s, each customer's next push only once their previous one was answered (a push that is not
 * answered 200 is sent again, as WeChat does). Resolves with each customer's texts in order.
 */
export async function pushAtRate(wechat: WechatPlatform, customers: readonly string[], count: number, perSecond: number): Promise<Conversation[]> {
  const conversations = customers.map((openid) => ({ openid, texts: [] as string[] }));
  const lastOf = new Map<string, Promise<void>>();
  const started = performance.now();
  const sends: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const due = started + (i * 1000) / perSecond;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const conversation = conversations[i % conversations.length]!;
    const text = `${conversation.openid} message ${conversation.texts.length}`;
    conversation.texts.push(text);
    const signed = wechat.sign(wechat.text(conversation.openid, text));
    const previous = lastOf.get(conversation.openid) ?? Promise.resolve();
    const sent = previous.then(async () => {
      for (let attempt = 0; ; attempt++) {
        const res = await wechat.post(signed).catch(() => ({ status: 0 }));
        if (res.status === 200) return;
        if (attempt > 200) throw new Error(`push not accepted after ${attempt} tries`);
        await new Promise((r) => setTimeout(r, 100));
      }
    });
    lastOf.set(conversation.openid, sent);
    sends.push(sent);
  }
  await Promise.all(sends);
  return conversations;
}
