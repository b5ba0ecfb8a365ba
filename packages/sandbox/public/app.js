// The sandbox page's script: sends as the customer or the agent through the sandbox's API, and
// shows both chats as the simulators hold them (polled; every message is shown as text), and the
// service desk (agents' login states, open conversations, customers waiting) as the relay keeps it.
// The sandbox runs two Official Accounts, each with its own IM app: the switch at the top shows one
// at a time, and every call names it (`?account=`).
const $ = (id) => document.getElementById(id);
const state = { account: 'default', accounts: [], dashboardPort: 0, openid: '', agent: '', agentChosen: false, last: '', switching: new Set() };

/** A path of the sandbox's API about the account shown. */
function about(path) {
  return `${path}${path.includes('?') ? '&' : '?'}account=${encodeURIComponent(state.account)}`;
}

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(answer.error ?? `${res.status} ${res.statusText}`);
  return answer;
}

/** Runs an action; a refusal shows under the panes instead of failing silently. */
async function attempt(action) {
  try {
    $('problem').textContent = '';
    await action();
    await refresh();
  } catch (err) {
    $('problem').textContent = String(err.message ?? err);
  }
}

/** An image address as this browser reaches it: the sandbox's own photos by their path; nothing else is loaded. */
function shownImage(url) {
  try {
    const { pathname } = new URL(url, location.href);
    return pathname.startsWith('/media/') || pathname.startsWith('/api/wechat-media/') ? pathname : '';
  } catch {
    return '';
  }
}

/** A sound or video address the relay serves (its signed /media/ links, or the sandbox's own): http(s) only. */
function shownMedia(url) {
  try {
    const parsed = new URL(url, location.href);
    return (parsed.protocol === 'http:' || parsed.protocol === 'https:') &&
      (parsed.pathname.startsWith('/media/') || parsed.pathname.startsWith('/api/wechat-media/'))
      ? parsed.href
      : '';
  } catch {
    return '';
  }
}

/** What a delivery mark shows on the agent's own message: ⏳ queued, ✓ delivered, ✗ not delivered (why in the tooltip). */
const MARKS = { queued: ['⏳', 'queued'], delivered: ['✓', 'delivered'], not_delivered: ['✗', 'not delivered'], withdrawn: ['↩', 'stopped (recalled)'] };

function render(list, items, actions) {
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.replaceChildren(
    ...items.map((item) => {
      const li = document.createElement('li');
      li.className = `msg from-${item.from}`;
      li.dataset.from = item.from;
      const text = document.createElement('span');
      text.className = 'text';
      text.textContent = item.text;
      li.append(text);
      if (item.image && shownImage(item.image)) {
        const img = document.createElement('img');
        img.src = shownImage(item.image);
        img.alt = 'photo';
        li.append(img);
      }
      if (item.sound && shownMedia(item.sound)) {
        const audio = document.createElement('audio');
        audio.controls = true;
        audio.preload = 'metadata';
        audio.src = shownMedia(item.sound);
        li.append(audio);
      }
      if (item.video && shownMedia(item.video.url)) {
        const video = document.createElement('video');
        video.controls = true;
        video.preload = 'none';
        video.src = shownMedia(item.video.url);
        if (item.video.poster && shownMedia(item.video.poster)) video.poster = shownMedia(item.video.poster);
        li.append(video);
      }
      if (item.mark) {
        const [sign, words] = MARKS[item.mark.state] ?? ['?', item.mark.state];
        const mark = document.createElement('span');
        mark.className = `mark mark-${item.mark.state}`;
        mark.textContent = sign;
        mark.title = item.mark.reason ? `${words}: ${item.mark.reason}` : words;
        mark.setAttribute('aria-label', mark.title);
        li.append(mark);
      }
      if (actions) actions(item, li);
      if (item.note) {
        const note = document.createElement('span');
        note.className = 'note';
        note.textContent = item.note;
        li.append(note);
      }
      return li;
    }),
  );
  if (atBottom) list.scrollTop = list.scrollHeight;
}

/** An agent's state in words, as the desk routes by it. */
function agentStateText({ action, online, open }) {
  const words = { Login: 'logged in', Logout: 'logged out', Disconnect: 'disconnected' };
  const shown = action === undefined ? 'online (IM has sent no state yet)' : (words[action] ?? `${action}${online ? '' : ' (offline)'}`);
  return `${shown} · ${open} open conversation${open === 1 ? '' : 's'}`;
}

/** Each agent's switch and state, and the customers waiting, as the relay's desk holds them. */
function renderDesk(desk) {
  if (desk.unavailable) {
    $('waiting-count').textContent = `not shown: ${desk.unavailable}`;
    $('waiting').replaceChildren();
    for (const li of $('agents').children) {
      // Their state is not known here: neither on nor off.
      li.querySelector('input').indeterminate = true;
      li.querySelector('.agent-state').textContent = '';
    }
    return;
  }
  for (const agent of desk.agents) {
    const li = [...$('agents').children].find((el) => el.dataset.agent === agent.agent);
    if (!li) continue;
    // A switch being flipped keeps its new position until the relay has recorded it.
    const box = li.querySelector('input');
    box.indeterminate = false;
    if (!state.switching.has(agent.agent)) box.checked = agent.online;
    li.querySelector('.agent-state').textContent = agentStateText(agent);
  }
  const more = desk.waitingCount - desk.waiting.length;
  $('waiting-count').textContent = desk.waitingCount === 0 ? 'nobody' : `${desk.waitingCount}${more > 0 ? ` (the first ${desk.waiting.length} shown)` : ''}`;
  $('waiting').replaceChildren(
    ...desk.waiting.map(({ openid, since }) => {
      const li = document.createElement('li');
      li.dataset.openid = openid;
      const who = document.createElement('span');
      who.textContent = `${openid.slice(0, 10)}…${openid === state.openid ? ' (this customer)' : ''}`;
      if (openid === state.openid) who.className = 'this-customer';
      const when = document.createElement('span');
      when.className = 'since';
      when.textContent = ` since ${new Date(since).toLocaleTimeString()}`;
      li.append(who, when);
      return li;
    }),
  );
}

/** Logs an agent in or out as their IM client would: IM tells im-callback, which records it for the desk. */
function agentSwitch(agent) {
  const li = document.createElement('li');
  li.dataset.agent = agent;
  const label = document.createElement('label');
  const box = document.createElement('input');
  box.type = 'checkbox';
  box.addEventListener('change', () => {
    state.switching.add(agent);
    void attempt(async () => {
      try {
        await api('PUT', about('/api/agent/login'), { agent, loggedIn: box.checked });
      } finally {
        // Redrawn from the relay's record either way: a refused switch goes back.
        state.switching.delete(agent);
        state.last = '';
      }
    });
  });
  const stateText = document.createElement('span');
  stateText.className = 'agent-state';
  label.append(box, ` ${agent} logged in `);
  li.append(label, stateText);
  return li;
}

/** A Recall button on the agent's own messages, as an IM client offers: IM tells the relay (the recall callback). */
function recallButton(item, li) {
  if (item.from !== 'agent' || item.recalled) return;
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'recall';
  button.textContent = 'Recall';
  button.addEventListener(
    'click',
    () => void attempt(() => api('POST', about('/api/agent/recall'), { agent: state.agent, openid: state.openid, msgKey: item.id })),
  );
  li.append(button);
}

/** The agent's client says "typing" while there is text in the box (again every few seconds), and "stopped" when it empties. */
const typing = { shown: false, at: 0 };
function agentTyping() {
  const now = Date.now();
  const typingNow = $('agent-input').value.trim() !== '';
  if (typingNow === typing.shown && (!typingNow || now - typing.at < 4000)) return;
  typing.shown = typingNow;
  typing.at = now;
  // Only a hint: a refused one is not worth a line under the panes.
  void api('POST', about('/api/agent/typing'), { agent: state.agent, openid: state.openid, typing: typingNow }).catch(() => undefined);
}

let refreshing = false;

/** Redraws both panes from the sandbox's state; one at a time, so an older answer never overwrites a newer one. */
async function refresh() {
  if (refreshing) return;
  refreshing = true;
  try {
    await redraw();
  } finally {
    refreshing = false;
  }
}

async function redraw() {
  const asked = { account: state.account, openid: state.openid, agent: state.agent };
  const view = await api('GET', about(`/api/view?openid=${encodeURIComponent(asked.openid)}&agent=${encodeURIComponent(asked.agent)}`));
  // Switched (account, customer or agent) while it was asked: an answer about what is no longer shown.
  if (asked.account !== state.account || asked.openid !== state.openid || asked.agent !== state.agent) return;
  const served = view.agent.servedBy;
  if (served && !state.agentChosen && served !== state.agent) {
    state.agent = served;
    $('agent').value = served;
    return redraw();
  }
  const key = JSON.stringify(view);
  if (key === state.last) return;
  state.last = key;
  render($('customer-chat'), view.customer);
  render($('agent-chat'), view.agent.items, recallButton);
  // What WeChat shows the customer while the agent types (custom/typing), as the simulator holds it.
  $('customer-typing').hidden = !view.typing;
  renderDesk(view.desk);
  $('window-closed').checked = !view.window.open;
  $('window-status').textContent = view.window.open
    ? `Customer-service window open until ${new Date(view.window.deadline).toLocaleString()}, ${view.window.remaining} replies left`
    : view.window.unfollowed
      ? 'The customer unfollowed: agents cannot reply until they follow again'
      : 'Customer-service window closed: agents cannot reply until the customer writes';
  $('im-failures').value = String(view.imFailPercent);
  $('im-failure-count').textContent = view.imFailures > 0 ? `(${view.imFailures} failed so far, each retried by the relay)` : '';
  $('served-by').textContent = served
    ? served === state.agent
      ? `Serving customer ${state.openid.slice(0, 10)}…`
      : `This customer is served by ${served}; pick ${served} to answer`
    : 'No message from this customer yet';
}

/** Where the account's customer is kept between visits: each account has a customer of its own (an openid is per Official Account). */
function customerKey(account) {
  return account === 'default' ? 'sandbox-openid' : `sandbox-openid:${account}`;
}

function newCustomer(openid) {
  state.openid = openid;
  state.agentChosen = false;
  state.last = '';
  localStorage.setItem(customerKey(state.account), openid);
  $('openid').textContent = `${openid.slice(0, 10)}…`;
}

/** Shows one account: its customer, its IM app's agents and desk, its board on the dashboard. */
async function showAccount(id) {
  const account = state.accounts.find((a) => a.id === id) ?? state.accounts[0];
  state.account = account.id;
  $('account').value = account.id;
  for (const tag of [$('customer-account'), $('agent-account')]) tag.textContent = account.id;
  $('agent').replaceChildren(...account.agents.map((agent) => new Option(agent, agent)));
  $('agents').replaceChildren(...account.agents.map(agentSwitch));
  state.switching.clear();
  state.agent = account.agents[0];
  $('dashboard').href = `${location.protocol}//${location.hostname}:${state.dashboardPort}${account.dashboardPath}`;
  const saved = localStorage.getItem(customerKey(account.id));
  newCustomer(saved && /^[A-Za-z0-9_-]{28}$/.test(saved) ? saved : (await api('POST', '/api/customers')).openid);
}

async function start() {
  const setup = await api('GET', '/api/setup');
  state.accounts = setup.accounts;
  state.dashboardPort = setup.dashboardPort;
  for (const a of setup.accounts) {
    const option = new Option(`${a.id} · IM app ${a.sdkAppId}`, a.id);
    option.title = `Official Account ${a.appId}, IM app ${a.sdkAppId}`;
    $('account').append(option);
  }
  for (const p of setup.failurePercents) $('im-failures').append(new Option(`${p}%`, String(p)));
  await showAccount(setup.accounts[0].id);

  $('customer-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const text = $('customer-input').value;
    if (text.trim() === '') return;
    $('customer-input').value = '';
    void attempt(() => api('POST', about('/api/customer/text'), { openid: state.openid, text }));
  });
  for (const button of document.querySelectorAll('[data-act]')) {
    button.addEventListener('click', () => void attempt(() => api('POST', about(`/api/customer/${button.dataset.act}`), { openid: state.openid })));
  }
  $('agent-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const text = $('agent-input').value;
    if (text.trim() === '') return;
    $('agent-input').value = '';
    // A sent message ends the typing on WeChat's side; the client's own flag follows.
    typing.shown = false;
    void attempt(() => api('POST', about('/api/agent/reply'), { agent: state.agent, openid: state.openid, text }));
  });
  $('agent-input').addEventListener('input', agentTyping);
  $('agent-photo').addEventListener(
    'click',
    () => void attempt(() => api('POST', about('/api/agent/reply'), { agent: state.agent, openid: state.openid, photo: true })),
  );
  $('agent').addEventListener('change', () => {
    state.agent = $('agent').value;
    state.agentChosen = true;
    state.last = '';
    void attempt(async () => {});
  });
  $('window-closed').addEventListener(
    'change',
    () => void attempt(() => api('PUT', about('/api/window'), { openid: state.openid, closed: $('window-closed').checked })),
  );
  $('im-failures').addEventListener('change', () => void attempt(() => api('PUT', about('/api/im-failures'), { percent: Number($('im-failures').value) })));
  $('account').addEventListener('change', () => void attempt(() => showAccount($('account').value)));
  $('new-customer').addEventListener('click', () => void attempt(async () => newCustomer((await api('POST', '/api/customers')).openid)));

  await refresh();
  const silent = 'the sandbox is not answering: ';
  setInterval(
    () =>
      void refresh().then(
        () => $('problem').textContent.startsWith(silent) && ($('problem').textContent = ''),
        (err) => ($('problem').textContent = silent + err.message),
      ),
    500,
  );
}

void start().catch((err) => ($('problem').textContent = String(err.message ?? err)));
