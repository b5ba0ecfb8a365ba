import type { ReplyJob } from '@wxim/queue';
import type { Lease, WindowNotices } from '@wxim/state';
import type { Job } from 'bullmq';
import type { DeskCommands } from './desk-commands.js';

/** The reasons of the window's relay notices in their CloudCustomData, for agent tools. */
export const WINDOW_NOTICE_REASONS = { lastReply: 'window-last-reply', closing: 'window-closing' } as const;

export const LAST_REPLY_TEXT = '⏳ Relay notice — that was the last reply WeChat allows until the customer writes again.';

/**
 * The warning of a window closing, naming the time it closes in `timeZone` (BUSINESS_TZ): the same
 * text for the same window whenever it is sent, so that IM drops a warning sent again.
 */
export function closingText(deadline: number, timeZone: string): string {
  const at = new Intl.DateTimeFormat('en-GB', { timeZone, day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(
    deadline,
  );
  return `⏳ Relay notice — this customer's last message is still unanswered, and WeChat lets the account answer them until ${at} (${timeZone}); after that, only once they write again.`;
}

/**
 * A delivered reply answers the customer's last message (unless they wrote it after the reply was
 * sent); when it used the window's last reply,
 * its agent is told so, in the conversation, unless the window's one notice was given already.
 */
export async function replyDelivered(
  job: Job<ReplyJob>,
  lease: Lease | undefined,
  deps: { notices: Pick<WindowNotices, 'answered' | 'claimLastReply'>; desk: Pick<DeskCommands, 'tell'> },
): Promise<void> {
  const { openid, agent, msgTime } = job.data;
  await deps.notices.answered(openid, msgTime * 1000);
  if (await deps.notices.claimLastReply(openid, job.id!, Date.now())) await deps.desk.tell(job, agent, WINDOW_NOTICE_REASONS.lastReply, LAST_REPLY_TEXT, lease);
}
