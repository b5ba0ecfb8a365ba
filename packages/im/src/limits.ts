/**
 * IM's documented frequency limit of each REST command the relay calls, per app and second
 * (docs/tencent-im.md). Above it IM answers 60007 instead of doing the call.
 */
export const IM_COMMAND_LIMITS: Readonly<Record<string, number>> = {
  'openim/sendmsg': 200,
  'openim/admin_getroammsg': 200,
  'openim/modify_c2c_msg': 200,
  'recentcontact/get_list': 200,
  'openim/query_online_status': 200,
  'im_open_login_svc/account_import': 200,
  'im_open_login_svc/account_delete': 100,
  'im_open_login_svc/account_check': 100,
};

/** The REST commands the relay calls. */
export const IM_COMMANDS: readonly string[] = Object.keys(IM_COMMAND_LIMITS);

/** IM's "too many requests" answers that WximImRateLimited and WximPusherImRateLimited watch. */
export const IM_RATE_LIMIT_CODES = ['60007', '60011', '60018', '60019'] as const;

/** The limit of commands not in the table: IM's usual REST limit. */
export const IM_DEFAULT_LIMIT = 200;

/**
 * A per-second figure set against IM's usual 200/s (the relay's IM_RATE_LIMIT, the simulator's
 * limit) scaled to the command's own limit: a command IM allows half as often gets half.
 */
export function paceFor(command: string, perSecond: number): number {
  const limit = IM_COMMAND_LIMITS[command] ?? IM_DEFAULT_LIMIT;
  return Math.max(1, Math.floor((perSecond * limit) / IM_DEFAULT_LIMIT));
}
