import { type AddressInfo, connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { loadConfig } from '@wxim/config';
import { startSandboxHost } from '@wxim/sandbox';
import { freePortRun, launchRelay, startTestRedis, testPrefix } from '@wxim/testkit';
import t from 'tap';

t.test('the sandbox page and its simulators listen on this machine only unless LOCAL_BIND says otherwise', async (t) => {
  for (const [env, address] of [
    [{}, '127.0.0.1'],
    [{ LOCAL_BIND: '0.0.0.0' }, '0.0.0.0'],
  ] as const) {
    const port = await freePortRun(3);
    const sandbox = await startSandboxHost(loadConfig({ ...env, SANDBOX_PORT: String(port) }));
    try {
      const bound = [sandbox.page.app, sandbox.im.app, sandbox.wechatApi.app].map((app) => app.server.address() as AddressInfo);
      t.same(
        bound.map((a) => [a.address, a.port]),
        [
          [address, port],
          [address, port + 1],
          [address, port + 2],
        ],
        `${JSON.stringify(env)}: page, IM simulator, WeChat API simulator`,
      );
      t.equal(sandbox.urls.page, `http://127.0.0.1:${port}`, 'and says where to open it');
    } finally {
      await sandbox.close();
    }
  }
});

/** An address of this machine that is not 127.0.0.1: an interface's, else on Linux 127.0.0.2 (all of 127/8 is this machine, but a socket on 127.0.0.1 does not answer it). */
function anotherAddress(): string | undefined {
  const external = Object.values(networkInterfaces())
    .flat()
    .find((a) => a?.family === 'IPv4' && !a.internal);
  return external?.address ?? (process.platform === 'linux' ? '127.0.0.2' : undefined);
}

/** Whether something takes a TCP connection at host:port. */
function answers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 2000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

const other = anotherAddress();

t.test(
  'in sandbox mode the wechat-gateway and im-callback, which take the published sandbox tokens, listen on LOCAL_BIND only',
  { skip: other === undefined ? 'this machine has no address but 127.0.0.1 to try' : false },
  async (t) => {
    const redis = await startTestRedis();
    t.teardown(() => redis.close());
    for (const [env, fromElsewhere] of [
      [{}, false],
      [{ LOCAL_BIND: '0.0.0.0' }, true],
    ] as const) {
      const relay = await launchRelay({ REDIS_URL: redis.url, QUEUE_PREFIX: testPrefix(), ...env });
      try {
        for (const [name, port] of [
          ['wechat-gateway', relay.ports.gateway],
          ['im-callback', relay.ports.callback],
        ] as const) {
          t.equal(await answers('127.0.0.1', port), true, `${JSON.stringify(env)}: ${name} answers on 127.0.0.1`);
          t.equal(await answers(other!, port), fromElsewhere, `${JSON.stringify(env)}: ${name} ${fromElsewhere ? 'answers' : 'does not answer'} at ${other}`);
        }
      } finally {
        relay.child.kill('SIGTERM');
        await relay.exited;
      }
    }
  },
);
