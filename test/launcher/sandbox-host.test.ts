import type { AddressInfo } from 'node:net';
import { loadConfig } from '@wxim/config';
import { startSandboxHost } from '@wxim/sandbox';
import { freePortRun } from '@wxim/testkit';
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
