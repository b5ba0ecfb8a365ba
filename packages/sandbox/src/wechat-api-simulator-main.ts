import { SANDBOX } from './credentials.js';
import { WechatApiSimulator } from './wechat-api-simulator.js';

/**
 * The WeChat API simulator as a process of its own, for benchmarks and tests. Its settings, all
 * optional: SIM_PORT (3005, where sandbox mode has it), SIM_APP_ID and SIM_APP_SECRET (the sandbox's account by default).
 */
const env = process.env;
const sim = new WechatApiSimulator({ appId: env['SIM_APP_ID'] ?? SANDBOX.appId, secret: env['SIM_APP_SECRET'] ?? SANDBOX.appSecret });
await sim.listen(Number(env['SIM_PORT'] ?? 3005), '127.0.0.1');
process.on('SIGTERM', () => void sim.close().then(() => process.exit(0)));
