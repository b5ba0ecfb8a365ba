import type { ImSimulator } from '@wxim/sandbox';
import { eventually } from './eventually.js';

/**
 * An agent's reply (`send`, its agentSend) whose callback IM holds while the customer does
 * something (`meanwhile`) in a later second than the reply's MsgTime: the reply was sent before it,
 * and reaches the relay after it. Resolves once the reply's callback was answered.
 */
export async function replyHeldWhile(
  im: ImSimulator,
  c: { userId: string; agent: string },
  send: () => Promise<unknown>,
  meanwhile: () => Promise<unknown>,
): Promise<void> {
  const release = im.callbackHeld();
  const sending = send();
  await eventually('IM has the reply', () => im.messagesBetween(c.agent, c.userId).length > 0);
  const sentAt = Math.floor(im.messagesBetween(c.agent, c.userId).at(-1)!.receivedAt / 1000);
  await eventually('a second later than the reply', () => Math.floor(Date.now() / 1000) > sentAt, 2000);
  await meanwhile();
  release();
  await sending;
}
