import type { WechatMessage } from '@wxim/wechat';

/**
 * Whether a push takes its turn in the customer's line. LOCATION reports (every few seconds),
 * VIEW menu jumps and the platform's reports on the business's own sends are not relayed, so they
 * need no place in the line.
 */
export function takesTurn(message: WechatMessage): boolean {
  return message.kind !== 'location_event' && message.kind !== 'view' && message.kind !== 'report';
}
