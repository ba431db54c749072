// One app server for the cross-server tests, in its own process as in production: Express 5, the
// rwsplit middleware and its own router (config in RWSPLIT_APP_CONFIG), on an ephemeral 127.0.0.1 port.
// Prints {"url": ...} once listening; closing stdin shuts it down.
//   POST /pairs/:id  writes the pair through req.db          → 201
//   GET  /pairs/:id  reads it back: { serverId, found }       → 200
//   GET  /topology   the router's topology()
// Errors answer 500 with the error's name, code and message.
import { createRouter } from '@rwsplit/router';
import { type RwsplitRequest, rwsplitMiddleware } from '@rwsplit/router/express';
import express, { type NextFunction, type Request, type Response } from 'express';
import { APP_CONFIG_ENV, type PairsAppConfig } from './express-apps.js';
import { INSERT_PAIR, readPair } from './read-back.js';

async function main(config: PairsAppConfig): Promise<void> {
  const db = createRouter(config.router);
  await db.ready();
  const dbOf = (req: Request) => (req as Request & RwsplitRequest).db;

  const app = express();
  app.get('/topology', (_req, res) => {
    res.json(db.topology());
  });
  app.use(rwsplitMiddleware(db));
  app.post('/pairs/:id', async (req, res) => {
    await dbOf(req).execute(INSERT_PAIR, [Number(req.params.id), config.name]);
    res.status(201).json({ ok: true });
  });
  app.get('/pairs/:id', async (req, res) => {
    res.json(await readPair(dbOf(req), Number(req.params.id)));
  });
  app.use((error: Error & { code?: string }, _req: Request, res: Response, _next: NextFunction) => {
    res.status(500).json({ error: { name: error.name, code: error.code, message: error.message } });
  });

  const server = app.listen(0, '127.0.0.1', (error?: Error) => {
    if (error) throw error;
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}` })}\n`);
  });
  process.stdin.resume();
  process.stdin.on('end', () => {
    server.closeAllConnections();
    server.close(() => {
      void db.close();
    });
  });
}

const text = process.env[APP_CONFIG_ENV];
if (!text) throw new Error(`${APP_CONFIG_ENV} is not set`);
await main(JSON.parse(text) as PairsAppConfig);
