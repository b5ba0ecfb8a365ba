import type { WechatApiSimulator } from '../wechat-api-simulator.js';
import type { WechatPlatform } from '../wechat-platform.js';
import type { CustomerAct } from './chat-view.js';
import { photoName, uniqueId } from './photo-names.js';

export const CUSTOMER_ACTIONS = ['follow', 'unfollow', 'text', 'photo', 'location', 'voice', 'video'] as const;
export type CustomerAction = (typeof CUSTOMER_ACTIONS)[number];

/** The sandbox remembers this many of the page's customer acts. */
const MAX_ACTS = 2000;

/**
 * What the page does as a customer: each act a signed, encrypted push to the gateway, as WeChat
 * sends it, after telling the WeChat API simulator what the customer did (as WeChat knows it).
 * The acts are kept with the gateway's answer, for the customer's pane.
 */
export class CustomerActs {
  readonly acts: CustomerAct[] = [];
  private serial = 0;

  constructor(
    private readonly wechat: WechatPlatform,
    private readonly wechatApi: WechatApiSimulator,
    /** The page's own origin as the services reach it: where the customer's photos are. */
    private readonly selfUrl: string,
  ) {}

  /** Resolves to the gateway's HTTP status, 0 when it could not be reached; the act keeps what happened. */
  async act(openid: string, action: CustomerAction, text: string): Promise<number> {
    const { wechat } = this;
    const photoUrl = `${this.selfUrl}/media/${photoName('customer')}`;
    const [message, shown] = {
      follow: () => [wechat.follow(openid), '[followed the Official Account]'] as const,
      unfollow: () => [wechat.unfollow(openid), '[unfollowed the Official Account]'] as const,
      text: () => [wechat.text(openid, text), text] as const,
      photo: () => [wechat.image(openid, photoUrl, `sandbox-${uniqueId()}`), '[photo]'] as const,
      location: () => [wechat.location(openid, 22.5431, 114.0579, 'Shenzhen Bay Park'), '[location] Shenzhen Bay Park (22.5431, 114.0579)'] as const,
      // The simulator's 2 s recording (a 440 Hz tone), with WeChat's transcript beside it, and its 1 s clip.
      voice: () => [wechat.voice(openid, { recognition: 'a two-second tone' }), '[voice message, 2 s]'] as const,
      video: () => [wechat.video(openid), '[video, 1 s]'] as const,
    }[action]();
    const at = Date.now();
    const item: CustomerAct = {
      id: `c${++this.serial}`,
      openid,
      at,
      from: 'customer',
      text: shown,
      ...('msgId' in message && message.msgId !== undefined ? { msgId: message.msgId } : {}),
      ...(action === 'photo' ? { image: photoUrl } : {}),
    };
    this.remember(item);
    // A message opens the 48-hour window, a follow a short one; an unfollow closes it.
    if (action === 'unfollow') this.wechatApi.customerUnfollowed(openid);
    else this.wechatApi.customerActed(openid, action === 'follow' ? 'event' : 'message', at);
    try {
      const res = await wechat.push(message);
      item.note = res.status === 200 ? 'the gateway took it' : `the gateway answered ${res.status}`;
      if (res.reply !== undefined)
        this.remember({ id: `c${++this.serial}`, openid, at: at + 1, from: 'business', text: passiveText(res.reply), note: 'passive reply' });
      return res.status;
    } catch (err) {
      item.note = `the gateway could not be reached: ${err instanceof Error ? err.message : String(err)}`;
      return 0;
    }
  }

  private remember(act: CustomerAct): void {
    this.acts.push(act);
    if (this.acts.length > MAX_ACTS) this.acts.splice(0, this.acts.length - MAX_ACTS);
  }
}

/** The text of a passive reply's XML, e.g. the welcome text. */
function passiveText(xml: string): string {
  return /<Content><!\[CDATA\[([\s\S]*?)\]\]><\/Content>/.exec(xml)?.[1] ?? xml;
}
