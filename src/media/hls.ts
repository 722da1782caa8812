// Serves the HLS that ffmpeg writes under DATA_DIR/hls/<roomId>/ on the media
// HTTP server (beside FLV), and counts HLS viewers: distinct requesters
// (address + user agent) of a room's playlist within a recent window, since an
// HLS player refetches the playlist about once per segment.
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import type http from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream';
import { CORS_HEADERS } from './playback.ts';

const HLS_PATH = /^\/hls\/([A-Za-z0-9_-]{1,128})\/(index\.m3u8|seg-\d{1,20}\.ts)$/;

export interface HlsServer {
  /** Handles /hls/... requests; false for any other path. */
  handle(req: http.IncomingMessage, res: http.ServerResponse): boolean;
  /** HLS viewers per room now (rooms with none are left out). */
  viewerCounts(): Record<string, number>;
  forget(roomId: string): void;
}

export function createHlsServer(opts: { dir: string; viewerWindowMs: number; maxViewersPerRoom: number }): HlsServer {
  /** roomId -> requester -> last playlist fetch (ms). */
  const seen = new Map<string, Map<string, number>>();

  const prune = (roomId: string, viewers: Map<string, number>, now: number) => {
    // Map order is insertion order and a refetch re-inserts: the stalest come first
    for (const [k, at] of viewers) {
      if (now - at <= opts.viewerWindowMs) break;
      viewers.delete(k);
    }
    if (viewers.size === 0) seen.delete(roomId);
  };

  const countViewer = (roomId: string, req: http.IncomingMessage) => {
    const now = Date.now();
    let viewers = seen.get(roomId);
    if (!viewers) seen.set(roomId, (viewers = new Map()));
    const who = `${req.socket.remoteAddress ?? ''}|${req.headers['user-agent'] ?? ''}`;
    viewers.delete(who);
    if (viewers.size < opts.maxViewersPerRoom) viewers.set(who, now);
    prune(roomId, viewers, now);
  };

  const notFound = (res: http.ServerResponse) => {
    res.writeHead(404, { ...CORS_HEADERS, 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'stream_not_found', message: 'no HLS stream for this room (yet)' } }));
  };

  async function serve(req: http.IncomingMessage, res: http.ServerResponse, roomId: string, name: string) {
    const file = path.join(opts.dir, roomId, name);
    const head = req.method === 'HEAD';
    if (name === 'index.m3u8') {
      // small, rewritten (atomically, by rename) every segment: read whole
      const body = await readFile(file).catch(() => null);
      if (!body) return notFound(res);
      countViewer(roomId, req);
      res.writeHead(200, {
        ...CORS_HEADERS,
        'Content-Type': 'application/vnd.apple.mpegurl',
        'Content-Length': String(body.length),
        'Cache-Control': 'no-cache, no-store',
      });
      res.end(head ? undefined : body);
      return;
    }
    const info = await stat(file).catch(() => null);
    if (!info?.isFile()) return notFound(res);
    res.writeHead(200, {
      ...CORS_HEADERS,
      'Content-Type': 'video/mp2t',
      'Content-Length': String(info.size),
      // segment names are never reused (numbered from the epoch second)
      'Cache-Control': 'public, max-age=60',
    });
    if (head) return void res.end();
    // pipeline, not pipe: a player that goes away mid-segment must not leave the file open (an fd per aborted
    // download, holding the disk space of a segment the sliding window deleted); a read error cuts the response short
    pipeline(createReadStream(file), res, () => {});
  }

  return {
    handle(req, res) {
      const url = req.url ?? '';
      if (!url.startsWith('/hls/')) return false;
      const q = url.indexOf('?');
      const m = HLS_PATH.exec(q >= 0 ? url.slice(0, q) : url);
      if (!m) notFound(res);
      else
        serve(req, res, m[1]!, m[2]!).catch(() => {
          if (!res.headersSent) notFound(res);
          else res.destroy();
        });
      return true;
    },
    viewerCounts() {
      const now = Date.now();
      const out: Record<string, number> = {};
      for (const [roomId, viewers] of seen) {
        prune(roomId, viewers, now);
        if (viewers.size > 0) out[roomId] = viewers.size;
      }
      return out;
    },
    forget(roomId) {
      seen.delete(roomId);
    },
  };
}
