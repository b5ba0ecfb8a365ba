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
