import { randomBytes } from 'node:crypto';

export interface MultipartBody {
  body: Buffer;
  /** `multipart/form-data; boundary=…` */
  contentType: string;
}

/** Quotes and line breaks in a file name are percent-encoded, as browsers' FormData does. */
function quoted(value: string): string {
  return value.replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/**
 * A multipart/form-data body of one file field, in one Buffer: unlike a stream it can be sent
 * again when a call is retried with a fresh access token. WeChat's upload pages ask for the file's
 * name, length and type in the part (`filelength` is WeChat's own parameter; others ignore it).
 */
export function multipartFile(field: string, bytes: Buffer, filename: string, contentType: string): MultipartBody {
  let boundary: string;
  do boundary = `----wxim${randomBytes(12).toString('hex')}`;
  while (bytes.includes(boundary));
  const head =
    `--${boundary}\r\n` +
    `Content-Disposition: form-data; name="${quoted(field)}"; filename="${quoted(filename)}"; filelength=${bytes.length}\r\n` +
    `Content-Type: ${contentType.replace(/[\r\n]/g, '')}\r\n\r\n`;
  return {
    body: Buffer.concat([Buffer.from(head, 'utf8'), bytes, Buffer.from(`\r\n--${boundary}--\r\n`, 'utf8')]),
    contentType: `multipart/form-data; boundary=${boundary}`,
  };
}
