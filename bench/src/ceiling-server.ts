import Fastify from 'fastify';

/** The ceiling: a bare Fastify route that reads the body as text and answers `success`. */
const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });
app.removeAllContentTypeParsers();
app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
app.post('/wechat', async () => 'success');
app.get('/healthz', async () => ({ status: 'ok' }));
await app.listen({ host: '127.0.0.1', port: Number(process.env['PORT']) });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
