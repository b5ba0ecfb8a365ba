import { isSandbox, loadConfig, startOrExit, withSandbox } from '@wxim/config';
import { startSandboxHost } from '@wxim/sandbox';
import { redactedUrl, sandboxGuide } from './sandbox-guide.js';

/**
 * `node cli/dist/sandbox.js`: the sandbox alone (page and simulators), for services that run
 * in processes or containers of their own (docker compose). They find it at SANDBOX_HOST; it finds
 * them at SANDBOX_GATEWAY_URL and SANDBOX_CALLBACK_URL. With sandbox mode off (credentials
 * configured, or SANDBOX=0) there is no sandbox: it says so and exits 0.
 */
await startOrExit('sandbox', async () => {
  const config = withSandbox(loadConfig());
  if (!isSandbox(config)) {
    const why = config.sandbox === false ? 'SANDBOX=0' : 'WeChat or IM credentials are configured';
    process.stdout.write(`Sandbox mode is off (${why}), so there is no sandbox: the services talk to the real platforms.\n`);
    return;
  }
  const sandbox = await startSandboxHost(config);
  let closing = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      if (closing) return;
      closing = true;
      void sandbox.close().finally(() => process.exit(0));
    });
  }
  process.stdout.write(
    `${sandboxGuide(config, sandbox)}\n  It pushes to the gateway at ${redactedUrl(config.sandboxLinks.gatewayUrl)} and calls im-callback at ${redactedUrl(config.sandboxLinks.callbackUrl)}.\n`,
  );
});
