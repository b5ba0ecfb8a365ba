export interface FormPart {
  name: string;
  filename?: string;
  contentType?: string;
  data: Buffer;
}

function param(disposition: string, key: string): string | undefined {
  const m = new RegExp(`;\\s*${key}="([^"]*)"`, 'i').exec(disposition) ?? new RegExp(`;\\s*${key}=([^;\\s]+)`, 'i').exec(disposition);
  return m?.[1];
}

/**
 * The parts of a multipart/form-data body, or undefined when it is not one: enough of RFC 7578 for
 * what WeChat's media/upload receives (one file field, CRLF line ends).
 */
export function parseFormData(body: Buffer, contentType: string): FormPart[] | undefined {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const boundary = m?.[1] ?? m?.[2];
  if (boundary === undefined) return undefined;
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  // The first delimiter may open the body without the CRLF before it.
  let at = body.indexOf(`--${boundary}`);
  if (at < 0) return undefined;
  at += boundary.length + 2;
  const parts: FormPart[] = [];
  while (body.toString('latin1', at, at + 2) !== '--') {
    if (body.toString('latin1', at, at + 2) !== '\r\n') return undefined;
    const headerEnd = body.indexOf('\r\n\r\n', at + 2);
    if (headerEnd < 0) return undefined;
    const headers = body.toString('utf8', at + 2, headerEnd).split('\r\n');
    const end = body.indexOf(delimiter, headerEnd + 4);
    if (end < 0) return undefined;
    const header = (name: string) =>
      headers
        .find((h) => h.toLowerCase().startsWith(`${name}:`))
        ?.slice(name.length + 1)
        .trim();
    const disposition = header('content-disposition') ?? '';
    const name = param(disposition, 'name');
    if (name === undefined) return undefined;
    const filename = param(disposition, 'filename');
    const type = header('content-type');
    parts.push({
      name,
      ...(filename === undefined ? {} : { filename }),
      ...(type === undefined ? {} : { contentType: type }),
      data: body.subarray(headerEnd + 4, end),
    });
    at = end + delimiter.length;
  }
  return parts;
}
