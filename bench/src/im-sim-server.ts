import { ImSimulator, SANDBOX } from '@wxim/sandbox';

/**
 * The IM simulator as its own process, for the relay benchmark: IM's real frequency limits unless
 * SIM_RATE_LIMIT=off (a run that needs more than IM allows, labelled so).
 */
const sim = new ImSimulator({
  sdkAppId: SANDBOX.imSdkAppId,
  secretKey: SANDBOX.imSecretKey,
  admin: SANDBOX.imAdmin,
  agents: SANDBOX.imAgents,
  ...(process.env['SIM_RATE_LIMIT'] === 'off' ? { rateLimit: false as const } : {}),
});
await sim.listen(Number(process.env['PORT']), '127.0.0.1');
process.on('SIGTERM', () => void sim.close().then(() => process.exit(0)));
