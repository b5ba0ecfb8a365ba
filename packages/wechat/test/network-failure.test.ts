import t from 'tap';
import { WechatTransientError } from '../src/api/errors/transient-error.js';
import { WechatUncertainError } from '../src/api/errors/uncertain-error.js';
import { networkFailure } from '../src/api/network-failure.js';

/** A network error as Node or undici gives it. */
const failed = (code: string, syscall?: string) => Object.assign(new Error(code), { code, ...(syscall === undefined ? {} : { syscall }) });

t.test('a request that cannot have left is tried again; one that may have reached WeChat is not', async (t) => {
  const before = [
    failed('ECONNREFUSED', 'connect'),
    failed('ENOTFOUND', 'getaddrinfo'),
    failed('EAI_AGAIN', 'getaddrinfo'),
    failed('UND_ERR_CONNECT_TIMEOUT'),
    failed('UND_ERR_CLOSED'),
    failed('EHOSTUNREACH', 'connect'),
    failed('ENETUNREACH', 'connect'),
    failed('CERT_HAS_EXPIRED'),
    failed('ERR_TLS_CERT_ALTNAME_INVALID'),
    failed('UNABLE_TO_VERIFY_LEAF_SIGNATURE'),
    failed('ERR_SSL_WRONG_VERSION_NUMBER'),
    failed('ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE'),
    // Happy eyeballs: every address refused, or unreachable; Node's AggregateError has the first's code, no syscall.
    Object.assign(new AggregateError([failed('ECONNREFUSED', 'connect'), failed('ECONNREFUSED', 'connect')]), { code: 'ECONNREFUSED' }),
    Object.assign(new AggregateError([failed('EHOSTUNREACH', 'connect'), failed('ENETUNREACH', 'connect')]), { code: 'EHOSTUNREACH' }),
  ];
  for (const err of before)
    t.type(networkFailure('message/custom/send', err), WechatTransientError, `${(err as { code?: string }).code ?? 'aggregate'}: not sent`);
  const after = [
    failed('ECONNRESET', 'read'),
    failed('UND_ERR_SOCKET'),
    failed('UND_ERR_HEADERS_TIMEOUT'),
    // On a kept-alive connection, once the request was written.
    failed('EHOSTUNREACH', 'read'),
    failed('ENETUNREACH'),
    failed('ERR_SSL_DECRYPTION_FAILED_OR_BAD_RECORD_MAC'),
    failed('ERR_SSL_SSLV3_ALERT_BAD_RECORD_MAC'),
  ];
  for (const err of after)
    t.type(
      networkFailure('message/custom/send', err),
      WechatUncertainError,
      `${(err as { code: string }).code} (${(err as { syscall?: string }).syscall ?? 'no syscall'}): may have arrived`,
    );
  t.equal(
    networkFailure('message/custom/send', failed('ECONNREFUSED', 'connect')).message,
    'WeChat message/custom/send failed: request not sent: ECONNREFUSED',
  );
});
