import type { ReplyElement, ReplyJob } from '@wxim/queue';
import { replyJobId } from '@wxim/queue';
import type { DeliveryDeps } from '../src/reply-delivery.js';

/** The customer's reply window as WeChat's first reply finds it: no record yet, so the send is left to WeChat. */
export const unrecordedWindow = {
  check: async () => ({ open: false, reason: 'never' }),
  consume: async () => {},
  exhaust: async () => {},
  close: async () => {},
} as unknown as DeliveryDeps['window'];

/** A reply found by a sweep (no confirmation needed), to one customer, as its job holds it. */
export function sweptReply(msgKey: string, body: ReplyElement[]): { id: string; data: ReplyJob } {
  return {
    id: replyJobId(msgKey),
    data: { agent: 'agent_a', userId: 'c_1', openid: 'o'.repeat(28), msgKey, msgTime: 0, body, acceptedAt: Date.now(), via: 'sweep' },
  };
}
