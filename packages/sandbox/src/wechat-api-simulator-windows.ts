export type CustomerAction = 'message' | 'event';

/** What a customer's action allows (rules since 2023): a message, 5 sends in 48 hours; a follow, menu click or scan, 3 in a minute. */
const GRANTS: Record<CustomerAction, { ms: number; sends: number }> = {
  message: { ms: 48 * 3_600_000, sends: 5 },
  event: { ms: 60_000, sends: 3 },
};

/** The typing state needs a message exchanged within 30 s and lasts 15 s. */
const TYPING_AFTER_MS = 30_000;
const TYPING_LASTS_MS = 15_000;

export interface CustomerWindow {
  deadline: number;
  remaining: number;
}

interface CustomerState extends CustomerWindow {
  lastMessageAt: number;
  typingUntil: number;
  unfollowed: boolean;
}

/** Each customer's window and quota for customer-service messages, as WeChat enforces them. */
export class CustomerWindows {
  private readonly customers = new Map<string, CustomerState>();

  constructor(private readonly unfollowedCode: 45015 | 43004) {}

  /**
   * Quotas do not add up: after an action, the sends left and the deadline are each the larger of
   * what the action grants and what was left of the window before.
   */
  acted(openid: string, kind: CustomerAction, at: number): void {
    const grant = GRANTS[kind];
    const s = this.customers.get(openid) ?? { deadline: 0, remaining: 0, lastMessageAt: -Infinity, typingUntil: 0, unfollowed: false };
    const open = s.deadline > at;
    s.remaining = Math.max(grant.sends, open ? s.remaining : 0);
    s.deadline = Math.max(at + grant.ms, open ? s.deadline : 0);
    s.unfollowed = false;
    if (kind === 'message') s.lastMessageAt = Math.max(s.lastMessageAt, at);
    this.customers.set(openid, s);
  }

  /** The window ends now, as it does 48 hours after the customer's last message (the sandbox page's toggle). */
  close(openid: string, at: number): void {
    const s = this.customers.get(openid);
    if (s === undefined) return;
    s.deadline = Math.min(s.deadline, at);
    s.remaining = 0;
  }

  unfollowed(openid: string): void {
    const s = this.customers.get(openid) ?? { deadline: 0, remaining: 0, lastMessageAt: -Infinity, typingUntil: 0, unfollowed: true };
    s.unfollowed = true;
    this.customers.set(openid, s);
  }

  /** Whether the customer follows the account, as far as the simulator knows (not after an unfollow until they act again). */
  follows(openid: string): boolean {
    return this.customers.get(openid)?.unfollowed !== true;
  }

  window(openid: string): CustomerWindow | undefined {
    const s = this.customers.get(openid);
    return s === undefined ? undefined : { deadline: s.deadline, remaining: s.remaining };
  }

  private refusal(s: CustomerState | undefined, now: number): { errcode: number; errmsg: string } | undefined {
    if (s?.unfollowed) return this.unfollowedCode === 43004 ? { errcode: 43004, errmsg: 'require subscribe' } : outOfTime();
    if (s === undefined || now >= s.deadline) return outOfTime();
    return undefined;
  }

  /** Takes one send from the customer's quota, or says why WeChat refuses it. */
  send(openid: string, now: number): { errcode: number; errmsg: string } | undefined {
    const s = this.customers.get(openid);
    const refused = this.refusal(s, now);
    if (refused !== undefined) return refused;
    if (s!.remaining <= 0) return { errcode: 45047, errmsg: 'out of response count limit' };
    s!.remaining--;
    s!.lastMessageAt = now;
    s!.typingUntil = 0; // a message ends the typing state
    return undefined;
  }

  /** Whether the customer sees "typing…" now: shown, not yet cancelled, ended by a message or over (15 s). */
  isTyping(openid: string, now: number): boolean {
    return now < (this.customers.get(openid)?.typingUntil ?? 0);
  }

  typing(openid: string, command: string, now: number): { errcode: number; errmsg: string } | undefined {
    if (command !== 'Typing' && command !== 'CancelTyping') return { errcode: 45072, errmsg: 'invalid command' };
    const s = this.customers.get(openid);
    const refused = this.refusal(s, now);
    if (refused !== undefined) return refused;
    if (command === 'CancelTyping') {
      s!.typingUntil = 0;
      return undefined;
    }
    if (now - s!.lastMessageAt > TYPING_AFTER_MS) return { errcode: 45080, errmsg: 'need sending message to user in 30 seconds' };
    if (now < s!.typingUntil) return { errcode: 45081, errmsg: 'already in typing status' };
    s!.typingUntil = now + TYPING_LASTS_MS;
    return undefined;
  }
}

function outOfTime() {
  return { errcode: 45015, errmsg: 'response out of time limit or subscription is canceled' };
}
