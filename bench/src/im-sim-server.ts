import { ImSimulator, SANDBOX } from '@wxim/sandbox';

/** The IM simulator as its own process, for the relay benchmark. */
const sim = new ImSimulator({ sdkAppId: SANDBOX.imSdkAppId, secretKey: SANDBOX.imSecretKey, admin: SANDBOX.imAdmin, agents: SANDBOX.imAgents });
await sim.listen(Number(process.env['PORT']), '127.0.0.1');
process.on('SIGTERM', () => void sim.close().then(() => process.exit(0)));
