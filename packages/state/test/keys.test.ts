import { stateKeys } from '@wxim/state';
import t from 'tap';

// The names are what a running fleet holds in Redis: a release that renamed one would lose what
// the release before left there (a token, a line, a pace) on a rolling update.
t.test('every key of the relay keeps its name', async (t) => {
  const keys = stateKeys('{wxim}');
  t.same(
    {
      customer: keys.customer('o1'),
      openidOf: keys.openidOf,
      agentLoad: keys.agentLoad,
      carriedLoad: keys.carriedLoad,
      jobs: keys.jobs('agent-replies'),
      queue: [keys.queue('agent-replies').wait, keys.queue('agent-replies').delayed],
      line: keys.line('agent-replies', 'o1'),
      legacyLine: [keys.legacyLine('wechat-inbound', 'o1'), keys.legacyLine('agent-replies', 'o1')],
      lineSeq: keys.lineSeq,
      lineAhead: keys.lineAhead('agent-replies', 'o1'),
      replyProgress: keys.replyProgress('r_1'),
      replyEnded: keys.replyEnded('r_1'),
      agentState: keys.agentState,
      deskWaiting: keys.deskWaiting,
      deskWaitingSeen: keys.deskWaitingSeen,
      deskActive: keys.deskActive,
      autoReplied: keys.autoReplied('o1'),
      agentLastAssigned: keys.agentLastAssigned,
      deskUnanswered: keys.deskUnanswered,
      deskSlaMovesOwed: keys.deskSlaMovesOwed,
      deskSlaMove: keys.deskSlaMove('o1:1'),
      deskSlaLock: keys.deskSlaLock,
      deskLoadsOwn: keys.deskLoadsOwn,
      carriedLoadsOwn: keys.carriedLoadsOwn,
      csatSeq: keys.csatSeq,
      csat: keys.csat('1000000073'),
      callbackHeartbeat: keys.callbackHeartbeat,
      callbackInstances: keys.callbackInstances,
      callbackGaps: keys.callbackGaps,
      recentCustomers: keys.recentCustomers,
      repliedCustomers: keys.repliedCustomers,
      callbackSweep: keys.callbackSweep,
      callbackOwed: keys.callbackOwed,
      historyLock: keys.historyLock,
      presenceSyncLock: keys.presenceSyncLock,
      replyConfirmations: keys.replyConfirmations('o1'),
      relayIds: keys.relayIds('j1'),
      earlierFirstAttempt: keys.earlierFirstAttempt('j1'),
      pace: keys.pace({ platform: 'im', command: 'openim/sendmsg' }),
      paceWindow: keys.paceWindow({ platform: 'im', command: 'openim/sendmsg' }),
      replicaMark: keys.replicaMark,
      typingShown: keys.typingShown('o1'),
      replyWindow: keys.replyWindow('o1'),
      media: keys.media('m1'),
      pushAddress: keys.pushAddress('1796500000', '42'),
      windowWatch: keys.windowWatch,
      windowWarningLock: keys.windowWarningLock,
      windowNotice: keys.windowNotice('o1', 1700000000000),
      accessToken: keys.accessToken,
    },
    {
      customer: '{wxim}:customer:o1',
      openidOf: '{wxim}:openid-of',
      agentLoad: '{wxim}:agent-load',
      carriedLoad: '{wxim}:agent-load',
      jobs: '{wxim}:agent-replies:',
      queue: ['{wxim}:agent-replies:wait', '{wxim}:agent-replies:delayed'],
      line: '{wxim}:line:agent-replies:o1',
      legacyLine: ['{wxim}:line:o1', undefined],
      lineSeq: '{wxim}:line-seq',
      lineAhead: '{wxim}:line-ahead:agent-replies:o1',
      replyProgress: '{wxim}:reply-progress:r_1',
      replyEnded: '{wxim}:reply-ended:r_1',
      agentState: '{wxim}:agent-state',
      deskWaiting: '{wxim}:desk:waiting',
      deskWaitingSeen: '{wxim}:desk:waiting-seen',
      deskActive: '{wxim}:desk:active',
      autoReplied: '{wxim}:desk:auto-replied:o1',
      agentLastAssigned: '{wxim}:desk:last-assigned',
      deskUnanswered: '{wxim}:desk:unanswered',
      deskSlaMovesOwed: '{wxim}:desk:sla-moves-owed',
      deskSlaMove: '{wxim}:desk:sla-move:o1:1',
      deskSlaLock: '{wxim}:desk:sla-lock',
      deskLoadsOwn: '{wxim}:desk:loads-own',
      carriedLoadsOwn: '{wxim}:desk:loads-own',
      csatSeq: '{wxim}:desk:csat-seq',
      csat: '{wxim}:desk:csat:1000000073',
      callbackHeartbeat: '{wxim}:im-callback:heartbeat',
      callbackInstances: '{wxim}:im-callback:instances',
      callbackGaps: '{wxim}:im-callback:gaps',
      recentCustomers: '{wxim}:recent-customers',
      repliedCustomers: '{wxim}:replied-customers',
      callbackSweep: '{wxim}:im-callback:sweep',
      callbackOwed: '{wxim}:im-callback:owed',
      historyLock: '{wxim}:im-callback:history-lock',
      presenceSyncLock: '{wxim}:im-callback:presence-sync-lock',
      replyConfirmations: '{wxim}:reply-confirmations:o1',
      relayIds: '{wxim}:relay-ids:j1',
      earlierFirstAttempt: '{wxim}:first-attempt:j1',
      pace: '{wxim}:pace:im:openim/sendmsg',
      paceWindow: '{wxim}:pace-window:im:openim/sendmsg',
      replicaMark: '{wxim}:replica-mark',
      typingShown: '{wxim}:typing-shown:o1',
      replyWindow: '{wxim}:reply-window:o1',
      media: '{wxim}:media:m1',
      pushAddress: '{wxim}:pa:1796500000:42',
      windowWatch: '{wxim}:window-watch',
      windowWarningLock: '{wxim}:window-warning-lock',
      windowNotice: '{wxim}:window-notice:o1:1700000000000',
      accessToken: {
        token: '{wxim}:wechat:access-token',
        lock: '{wxim}:wechat:access-token:lock',
        failed: '{wxim}:wechat:access-token:failed',
        forced: '{wxim}:wechat:access-token:forced',
      },
    },
  );
  t.equal(Object.keys(keys).length, 49, 'a key added here is added to this list too');
});

t.test("an account that shares its IM app counts agents' loads in the app's keys, its own kept to carry over", async (t) => {
  const keys = stateKeys('{wxim}/two', { at: '{wxim}:im-app:1400000001', from: '{wxim}/two' });
  t.same(
    [keys.agentLoad, keys.deskLoadsOwn, keys.carriedLoad, keys.carriedLoadsOwn, keys.deskActive],
    [
      '{wxim}:im-app:1400000001:agent-load',
      '{wxim}:im-app:1400000001:desk:loads-own',
      '{wxim}/two:agent-load',
      '{wxim}/two:desk:loads-own',
      '{wxim}/two:desk:active',
    ],
  );
});

t.test("an account's customer hashes sit beside its desk's open conversations (the desk scripts find another account's customers so)", async (t) => {
  for (const prefix of ['wxim', '{wxim}', '{wxim}/brand-b']) {
    const keys = stateKeys(prefix);
    t.ok(keys.deskActive.endsWith(':desk:active'), keys.deskActive);
    t.equal(keys.customer('o1'), `${keys.deskActive.slice(0, -':desk:active'.length)}:customer:o1`, prefix);
  }
});
