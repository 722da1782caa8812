// Serves the built web app (web/dist) at `/`: hashed assets with long caching
// and index.html at `/`. Pages are hash routes (`/#/room/<id>`), so no other
// path needs the page: an unknown path stays a JSON 404, and paths that belong
// to the API and the server's own routes are never answered from here.
import { existsSync } from 'node:fs';
import path from 'node:path';
import express, { type Express, type RequestHandler } from 'express';

export const WEB_DIST = path.resolve(import.meta.dirname, '../../web/dist');

/** Prefixes the server answers itself; a missing path under them stays a JSON 404. */
const RESERVED = /^\/(api|files|previews|recordings|matchmake|healthz|readyz|metrics)(\/|$)/;

export interface WebSettings {
  /** The API's base URL, read per request (tests learn the API's port after the app is built). */
  publicUrl(): string;
  /** Where players fetch media; null while the media port is not known yet (MEDIA_HTTP_PORT=0 without MEDIA_PUBLIC_URL). */
  mediaUrl: string | null;
}

const origin = (url: string) => {
  try {
    return new URL(url).origin;
  } catch {
    return null;
  }
};
const wsOf = (httpOrigin: string) => httpOrigin.replace(/^http/, 'ws');

/**
 * The origins players fetch from. With MEDIA_HTTP_PORT=0 (tests) the port is
 * picked when media starts, after this app is built, so the media host is
 * allowed on any port then.
 */
export function mediaOrigins(s: WebSettings): string[] {
  if (s.mediaUrl === null) return ['http://localhost:*', 'ws://localhost:*'];
  const o = origin(s.mediaUrl);
  return o ? [o, wsOf(o)] : [];
}

/**
 * The page's Content-Security-Policy. Helmet's default would block what the
 * player needs: MSE playback uses blob: media URLs, FLV/HLS come from the
 * media origin (another port) over fetch/XHR and WebSocket. Everything else
 * stays as strict as helmet's default (no inline script, no plugins, no framing).
 */
export function webCsp(s: WebSettings, host: string | undefined): string {
  const media = mediaOrigins(s);
  const httpMedia = media.filter((o) => o.startsWith('http'));
  const api = origin(s.publicUrl());
  // 'self' covers same-origin ws: in current browsers; naming it keeps older ones working.
  const selfWs = host ? [`ws://${host}`, `wss://${host}`] : [];
  const directives: Record<string, string[]> = {
    'default-src': ["'self'"],
    'script-src': ["'self'"],
    'style-src': ["'self'"],
    'img-src': ["'self'", 'data:', 'blob:', ...(api ? [api] : []), ...httpMedia],
    'media-src': ["'self'", 'blob:', ...httpMedia],
    'connect-src': ["'self'", ...selfWs, ...(api ? [api, wsOf(api)] : []), ...media],
    'worker-src': ["'self'", 'blob:'],
    'font-src': ["'self'", 'data:'],
    'object-src': ["'none'"],
    'base-uri': ["'self'"],
    'form-action': ["'self'"],
    'frame-ancestors': ["'self'"],
  };
  return Object.entries(directives)
    .map(([k, v]) => `${k} ${[...new Set(v)].join(' ')}`)
    .join('; ');
}

/** Registers the web app; a checkout without web/dist (never built) serves only the API. */
export function webRoutes(app: Express, settings: WebSettings, dist = WEB_DIST): void {
  const index = path.join(dist, 'index.html');
  const withCsp: RequestHandler = (req, res, next) => {
    res.setHeader('Content-Security-Policy', webCsp(settings, req.headers.host));
    next();
  };
  const assets = express.static(dist, {
    index: false,
    redirect: false,
    // file names under assets/ carry a content hash; everything else may change with a build
    setHeaders: (res, file) => res.setHeader('Cache-Control', file.includes(`${path.sep}assets${path.sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache'),
  });
  const page: RequestHandler = (req, res, next) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || req.path !== '/' || !existsSync(index)) return next();
    res.sendFile(index, { headers: { 'Cache-Control': 'no-cache' } }, (err) => {
      if (err && !res.headersSent) next();
    });
  };
  app.use((req, res, next) => {
    if (RESERVED.test(req.path)) return next();
    withCsp(req, res, () => assets(req, res, () => page(req, res, next)));
  });
}
