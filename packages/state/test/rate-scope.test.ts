import { type RateScope, scopeName, stateKeys } from '@wxim/state';
import t from 'tap';

t.test("a scope's pace keys keep the names the fleet has always used, so a rolling update shares one pace", async (t) => {
  const keys = stateKeys('{wxim}');
  const named: [RateScope, string][] = [
    [{ platform: 'im', command: 'openim/sendmsg' }, 'im:openim/sendmsg'],
    [{ platform: 'im', command: 'openim/admin_getroammsg', share: 'recovery' }, 'im-recovery:openim/admin_getroammsg'],
    [{ platform: 'im', command: 'openim/admin_getroammsg', share: 'confirm' }, 'im-confirm:openim/admin_getroammsg'],
    [{ platform: 'wechat', api: 'custom/send' }, 'wechat:custom/send'],
  ];
  for (const [scope, name] of named) {
    t.equal(scopeName(scope), name);
    t.equal(keys.pace(scope), `{wxim}:pace:${name}`);
    t.equal(keys.paceWindow(scope), `{wxim}:pace-window:${name}`);
  }
});

t.test("IM's budget is not WeChat's, and a share is not its command's", async (t) => {
  const names = new Set(
    (
      [
        { platform: 'im', command: 'media/upload' },
        { platform: 'wechat', api: 'media/upload' },
        { platform: 'im', command: 'media/upload', share: 'recovery' },
        { platform: 'im', command: 'media/upload', share: 'confirm' },
      ] satisfies RateScope[]
    ).map(scopeName),
  );
  t.equal(names.size, 4, 'four scopes, four paces');
});
