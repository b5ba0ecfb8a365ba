/**
 * `node cli/dist/healthcheck.js <port> [path]`: a container's health check (the image has no
 * curl): exits 0 when http://127.0.0.1:<port><path> (default /readyz) answers 2xx within 2 s.
 */
const [port = '', path = '/readyz'] = process.argv.slice(2);
if (!/^\d{1,5}$/.test(port) || !path.startsWith('/')) {
  process.stderr.write('usage: healthcheck.js <port> [/path]\n');
  process.exit(2);
}
try {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2000) });
  process.exit(res.ok ? 0 : 1);
} catch {
  process.exit(1);
}
