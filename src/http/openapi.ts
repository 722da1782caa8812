// Serves the generated OpenAPI 3.1 document and a browsable page (Swagger UI
// from the swagger-ui-dist package, so nothing is fetched from a CDN).
import path from 'node:path';
import { OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import express, { type Router } from 'express';
import { absolutePath } from 'swagger-ui-dist';
import type { Api } from './route.ts';

export function openApiRouter(api: Api, publicUrl: string): Router {
  api.registry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
  let doc: unknown;
  const document = () =>
    (doc ??= new OpenApiGeneratorV31(api.registry.definitions).generateDocument({
      openapi: '3.1.0',
      info: { title: 'Liveroom API', version: '1', description: 'Live rooms, chat, follows, gifts, lotteries and rankings.' },
      servers: [{ url: publicUrl }],
    }));

  const router = express.Router();
  router.get('/openapi.json', (_req, res) => void res.json(document()));
  router.get('/docs', (_req, res) => {
    res.type('html').send(`<!doctype html><html><head><meta charset="utf-8"><title>Liveroom API</title>
<link rel="stylesheet" href="/api/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div><script src="/api/docs/assets/swagger-ui-bundle.js"></script>
<script src="/api/docs/init.js"></script></body></html>`);
  });
  // The initializer is a file of its own so the page works under helmet's CSP (no inline scripts).
  router.get('/docs/init.js', (_req, res) => {
    res.type('js').send(`window.ui = SwaggerUIBundle({ url: '/api/openapi.json', dom_id: '#swagger-ui' });`);
  });
  router.use('/docs/assets', express.static(path.resolve(absolutePath()), { maxAge: '1d', index: false }));
  return router;
}
