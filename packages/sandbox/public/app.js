// The sandbox page's script: sends as the customer or the agent through the sandbox's API, and
// shows both chats as the simulators hold them (polled; every message is shown as text).
const $ = (id) => document.getElementById(id);
const state = { openid: '', agent: '', agentChosen: false, last: '' };

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

function render(list, items) {
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
  const view = await api('GET', `/api/view?openid=${encodeURIComponent(state.openid)}&agent=${encodeURIComponent(state.agent)}`);
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
  render($('agent-chat'), view.agent.items);
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

function newCustomer(openid) {
  state.openid = openid;
  state.agentChosen = false;
  state.last = '';
  localStorage.setItem('sandbox-openid', openid);
  $('openid').textContent = `${openid.slice(0, 10)}…`;
}

async function start() {
  const setup = await api('GET', '/api/setup');
  for (const agent of setup.agents) $('agent').append(new Option(agent, agent));
  for (const p of setup.failurePercents) $('im-failures').append(new Option(`${p}%`, String(p)));
  state.agent = setup.agents[0];
  $('dashboard').href = `${location.protocol}//${location.hostname}:${setup.dashboardPort}/`;
  const saved = localStorage.getItem('sandbox-openid');
  newCustomer(saved && /^[A-Za-z0-9_-]{28}$/.test(saved) ? saved : (await api('POST', '/api/customers')).openid);

  $('customer-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const text = $('customer-input').value;
    if (text.trim() === '') return;
    $('customer-input').value = '';
    void attempt(() => api('POST', '/api/customer/text', { openid: state.openid, text }));
  });
  for (const button of document.querySelectorAll('[data-act]')) {
    button.addEventListener('click', () => void attempt(() => api('POST', `/api/customer/${button.dataset.act}`, { openid: state.openid })));
  }
  $('agent-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const text = $('agent-input').value;
    if (text.trim() === '') return;
    $('agent-input').value = '';
    void attempt(() => api('POST', '/api/agent/reply', { agent: state.agent, openid: state.openid, text }));
  });
  $('agent-photo').addEventListener(
    'click',
    () => void attempt(() => api('POST', '/api/agent/reply', { agent: state.agent, openid: state.openid, photo: true })),
  );
  $('agent').addEventListener('change', () => {
    state.agent = $('agent').value;
    state.agentChosen = true;
    state.last = '';
    void attempt(async () => {});
  });
  $('window-closed').addEventListener(
    'change',
    () => void attempt(() => api('PUT', '/api/window', { openid: state.openid, closed: $('window-closed').checked })),
  );
  $('im-failures').addEventListener('change', () => void attempt(() => api('PUT', '/api/im-failures', { percent: Number($('im-failures').value) })));
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
