import { isIP } from 'node:net';
import { ConfigError } from './config-error.js';
import { type Env, raw, url } from './readers.js';
import { addressOfBind, httpOrigin } from './sandbox-mode.js';

export interface SandboxLinks {
  /** SANDBOX_HOST: where the services reach the sandbox; unset, LOCAL_BIND's address (127.0.0.1 for 0.0.0.0). */
  host?: string;
  gatewayUrl: string;
  callbackUrl: string;
}

const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** LOCAL_BIND: an address to listen on (IPv4 or IPv6, no brackets) or localhost. */
export function localBind(env: Env): string {
  const value = raw(env, 'LOCAL_BIND');
  if (value === undefined) return '127.0.0.1';
  if (value !== 'localhost' && isIP(value) === 0)
    throw new ConfigError('LOCAL_BIND', 'is malformed', 'an interface address such as 127.0.0.1 (this machine only) or 0.0.0.0 (in a container)');
  return value;
}

/** `bind`: LOCAL_BIND, where the gateway and im-callback listen in sandbox mode (see platformBind). */
export function sandboxLinks(env: Env, gatewayPort: number, callbackPort: number, bind: string): SandboxLinks {
  const host = raw(env, 'SANDBOX_HOST');
  const bare = host?.replace(/^\[(.*)\]$/, '$1');
  if (host !== undefined && !HOST_NAME.test(host) && isIP(bare!) === 0)
    throw new ConfigError('SANDBOX_HOST', 'is malformed', 'the host name or address of the sandbox (its simulators), e.g. sandbox or 127.0.0.1');
  return {
    ...(bare === undefined ? {} : { host: bare }),
    gatewayUrl: url(env, 'SANDBOX_GATEWAY_URL', ['http:', 'https:'], httpOrigin(addressOfBind(bind), gatewayPort)),
    callbackUrl: url(env, 'SANDBOX_CALLBACK_URL', ['http:', 'https:'], `${httpOrigin(addressOfBind(bind), callbackPort)}/im/callback`),
  };
}
