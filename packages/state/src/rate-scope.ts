/**
 * What IM's history command (admin_getroammsg) is used for, each within its own share of the
 * fleet's pace of it: looking for replies whose callbacks were missed (gaps, sweeps), or confirming
 * replies before they are delivered.
 */
export type HistoryUse = 'recovery' | 'confirm';

/**
 * What one fleet-wide pace (RateGate) counts calls of: one IM command, or a use's share of one
 * (a call takes its turn under the share, then under the command's pace), or one WeChat API.
 * IM's budget is not WeChat's: each platform's scopes are apart.
 */
export type RateScope = { platform: 'im'; command: string; share?: HistoryUse } | { platform: 'wechat'; api: string };

/**
 * The scope as its pace's Redis keys name it (`im:openim/sendmsg`, `im-recovery:openim/admin_getroammsg`,
 * `wechat:custom/send`): the text the fleet has always used, so a rolling update keeps one pace.
 */
export function scopeName(scope: RateScope): string {
  switch (scope.platform) {
    case 'im':
      return scope.share === undefined ? `im:${scope.command}` : `im-${scope.share}:${scope.command}`;
    case 'wechat':
      return `wechat:${scope.api}`;
  }
}
