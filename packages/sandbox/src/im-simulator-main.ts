import { SANDBOX } from './credentials.js';
import { ImSimulator } from './im-simulator.js';

/**
 * The IM simulator as a process of its own, as the platform is: what it records (arrival times,
 * calls per second) is not held up by anyone else's work. For benchmarks and tests. Its own
 * settings, all optional: SIM_PORT (3004, where sandbox mode has it), SIM_SDK_APP_ID, SIM_SECRET_KEY and SIM_AGENTS
 * (comma-separated; the sandbox's app by default), SIM_RATE_LIMIT (IM's own unless a number, or
 * `off` for a run that needs more than IM allows, labelled so), SIM_DEDUPE_WINDOW_MS, SIM_LATENCY_MS
 * (every answer's delay), SIM_HISTORY_LAG_MS (how long a message takes to show in the history), and
 * SIM_CALLBACK_URL with SIM_CALLBACK_TOKEN (where IM's callbacks go, and their authentication token).
 */
const env = process.env;
const sim = new ImSimulator({
  sdkAppId: Number(env['SIM_SDK_APP_ID'] ?? SANDBOX.imSdkAppId),
  secretKey: env['SIM_SECRET_KEY'] ?? SANDBOX.imSecretKey,
  admin: SANDBOX.imAdmin,
  agents: env['SIM_AGENTS'] === undefined ? SANDBOX.imAgents : env['SIM_AGENTS'].split(',').filter(Boolean),
  ...(env['SIM_RATE_LIMIT'] ? { rateLimit: env['SIM_RATE_LIMIT'] === 'off' ? false : Number(env['SIM_RATE_LIMIT']) } : {}),
  ...(env['SIM_DEDUPE_WINDOW_MS'] ? { dedupeWindowMs: Number(env['SIM_DEDUPE_WINDOW_MS']) } : {}),
  ...(env['SIM_LATENCY_MS'] ? { latencyMs: Number(env['SIM_LATENCY_MS']) } : {}),
  ...(env['SIM_HISTORY_LAG_MS'] ? { historyLagMs: Number(env['SIM_HISTORY_LAG_MS']) } : {}),
  ...(env['SIM_CALLBACK_URL']
    ? { callback: { url: env['SIM_CALLBACK_URL'], ...(env['SIM_CALLBACK_TOKEN'] ? { token: env['SIM_CALLBACK_TOKEN'] } : {}) } }
    : {}),
});
await sim.listen(Number(env['SIM_PORT'] ?? 3004), '127.0.0.1');
process.on('SIGTERM', () => void sim.close().then(() => process.exit(0)));
