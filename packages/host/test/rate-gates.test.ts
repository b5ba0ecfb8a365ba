import { loadConfig } from '@wxim/config';
import { WECHAT_PACE, fleetPace } from '@wxim/host';
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
