import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@wxim/config';
import { WECHAT_PACE, fleetPace, imPacePrefix } from '@wxim/host';
import t from 'tap';

t.test("IM's pace per command follows IM_RATE_LIMIT, scaled to the command's own limit", async (t) => {
  const pace = fleetPace(loadConfig({ IM_RATE_LIMIT: '180' }));
  t.equal(pace({ platform: 'im', command: 'openim/sendmsg' }), 180, 'a command IM allows 200/s');
  t.equal(pace({ platform: 'im', command: 'im_open_login_svc/account_check' }), 90, 'a command IM allows 100/s gets half');
});

t.test("the history's uses split its pace: CALLBACK_RECOVERY_PERCENT to recovery, the rest to confirmations", async (t) => {
  const pace = fleetPace(loadConfig({ IM_RATE_LIMIT: '180', CALLBACK_RECOVERY_PERCENT: '25' }));
  const command = 'openim/admin_getroammsg';
  t.equal(pace({ platform: 'im', command, share: 'recovery' }), 45);
  t.equal(pace({ platform: 'im', command, share: 'confirm' }), 135);
  t.equal(
    fleetPace(loadConfig({ IM_RATE_LIMIT: '2', CALLBACK_RECOVERY_PERCENT: '10' }))({ platform: 'im', command, share: 'recovery' }),
    1,
    'never below one call a second',
  );
});

t.test("WeChat's calls keep a pace of their own", async (t) => {
  const pace = fleetPace(loadConfig({ IM_RATE_LIMIT: '50' }));
  t.equal(pace({ platform: 'wechat', api: 'custom/send' }), WECHAT_PACE);
});

t.test("accounts that share an IM app keep its pace under the app's own prefix, whatever the file's order: pods of two orders share one pace", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wxim-pace-'));
  const account = (id: string, sdkAppId: number, n: number) => ({
    id,
    wechat: { appId: `wx0123456789abcde${n}`, token: `token${id}x` },
    im: { sdkAppId, secretKey: 'k'.repeat(64), agents: ['ann'], callbackToken: `cb-${sdkAppId}` },
  });
  const [a, b, c, solo] = [account('a', 1400000011, 1), account('b', 1400000011, 2), account('c', 1400000011, 3), account('solo', 1400000099, 4)];
  const paceOf = (order: unknown[], id: string) => {
    const file = join(dir, `${order.length}-${id}.json`);
    writeFileSync(file, JSON.stringify({ accounts: order }));
    return imPacePrefix(loadConfig({ ACCOUNTS_FILE: file }).accounts.find((x) => x.account === id)!);
  };
  const before = paceOf([a, b, solo], 'a');
  t.equal(before, 'wxim:im-app:1400000011', "the app's own prefix");
  t.equal(paceOf([a, b, solo], 'b'), before, 'shared by the accounts of the app');
  t.equal(paceOf([c, a, b, solo], 'a'), before, 'an account put first changes nothing');
  t.equal(paceOf([c, b, solo], 'b'), before, 'nor one removed');
  t.equal(paceOf([a, b, solo], 'solo'), 'wxim/solo', 'an app of its own: the account’s own prefix');
});
