import { loadConfig } from '@wxim/config';
import { localHosts, onlyKnownHosts } from '@wxim/host';
import Fastify from 'fastify';
import t from 'tap';

function app(hosts: readonly string[]) {
  const server = Fastify();
  onlyKnownHosts(server, hosts, { open: ['/healthz'] });
  server.get('/healthz', async () => ({ status: 'ok' }));
  server.get('/secret', async () => ({ secret: 'customer data' }));
  return server;
}

t.test('a known name is answered, with or without its port, in any case', async (t) => {
  const server = app(['127.0.0.1', 'localhost', '::1', 'Sandbox']);
  for (const host of ['127.0.0.1', '127.0.0.1:3002', 'LOCALHOST:3002', '[::1]:3002', '[::1]', 'sandbox:3003']) {
    t.equal((await server.inject({ url: '/secret', headers: { host } })).statusCode, 200, host);
  }
});

t.test('any other Host is refused 421 and told which names are known', async (t) => {
  const server = app(['127.0.0.1', 'localhost', '::1']);
  const names = ['attacker.example', 'attacker.example:3002', '127.0.0.1.nip.io', 'localhost.attacker.example', '10.0.0.7:3002', '[::2]:3002'];
  // Not a name but a name hidden in something else: a user part, a path, a second port.
  const smuggled = [
    'attacker.example@127.0.0.1',
    '127.0.0.1/attacker.example',
    '127.0.0.1:3002:80',
    'attacker.example\\@localhost',
    '127.0.0.1 attacker.example',
  ];
  for (const host of [...names, ...smuggled]) {
    const res = await server.inject({ url: '/secret', headers: { host } });
    t.equal(res.statusCode, 421, JSON.stringify(host));
    t.equal(res.json<{ error: string }>().error, 'unknown host: this service answers only to 127.0.0.1, localhost, ::1');
  }
});

t.test('the open paths answer whatever the Host: probes and scrapes name a pod by IP or Service', async (t) => {
  const server = app(['127.0.0.1']);
  for (const host of ['10.0.0.7:3002', 'dashboard:3002', 'attacker.example']) {
    t.equal((await server.inject({ url: '/healthz', headers: { host } })).statusCode, 200, host);
    t.equal((await server.inject({ url: '/healthz?probe=1', headers: { host } })).statusCode, 200, `${host} with a query`);
  }
});

t.test("this machine's names are the loopback names and LOCAL_BIND's address", async (t) => {
  t.same(localHosts(loadConfig({})), ['127.0.0.1', 'localhost', '::1', '127.0.0.1']);
  t.same(localHosts(loadConfig({ LOCAL_BIND: '192.168.1.20' })), ['127.0.0.1', 'localhost', '::1', '192.168.1.20']);
});
