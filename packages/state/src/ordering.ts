import { type WechatMessage, isRelayed } from '@wxim/wechat';

/**
 * Whether a push takes its turn in the customer's line: the relayed ones do (KIND_RULES). Those
 * that are not relayed (LOCATION reports every few seconds, VIEW menu jumps, the platform's
 * reports on the business's own sends) need no place in the line.
 */
export function takesTurn(message: WechatMessage): boolean {
  return isRelayed(message);
}
