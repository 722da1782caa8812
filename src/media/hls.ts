// Serves the HLS that ffmpeg writes under DATA_DIR/hls/<roomId>/ on the media
// HTTP server (beside FLV), and counts HLS viewers: requesters of a room's
// playlist within a recent window, since an HLS player refetches the playlist
// about once per segment. A requester is an address (an IPv6 /64, what one
// host or home is given) with at most HLS_VIEWERS_PER_IP user agents: the
// User-Agent is the client's to choose, so counting each one let one address
// with 500 of them show 500 viewers.
//
// A room published on another node is served as an edge: its playlist and
// segments are fetched from the origin once and kept a short while (the
// playlist for a second, segments, whose names are never reused, until the
// cache is full), so that an edge's viewers cost the origin one reader.
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import type http from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream';
import { addressGroup } from './address.ts';
import { CORS_HEADERS } from './flv-playback.ts';
import { EDGE_HEADER } from './stream-source.ts';

const HLS_PATH = /^\/hls\/([A-Za-z0-9_-]{1,128})\/(index\.m3u8|seg-\d{1,20}\.ts)$/;

export interface HlsServer {
  /** Handles /hls/... requests; false for any other path. */
  handle(req: http.IncomingMessage, res: http.ServerResponse): boolean;
  /** HLS viewers per room now (rooms with none are left out). */
  viewerCounts(): Record<string, number>;
  forget(roomId: string): void;
}

interface Viewers {
  /** requester (address + user agent) -> its address and last playlist fetch (ms); stalest first. */
  byAgent: Map<string, { address: string; at: number }>;
  /** address -> its requesters in byAgent (at most viewersPerAddress). */
  byAddress: Map<string, Set<string>>;
}

export interface HlsEdgeOptions {
  /** The origin's base URL for a room published elsewhere, or null. */
  originOf: (roomId: string) => Promise<string | null>;
  nodeId: string;
  /** Bytes of fetched playlists and segments kept. */
  cacheBytes: number;
  timeoutMs: number;
}

interface Cached {
  body: Buffer;
  type: string;
  expiresAt: number;
}

const PLAYLIST_TTL_MS = 1000;
const SEGMENT_TTL_MS = 60_000;

export function createHlsServer(opts: { dir: string; viewerWindowMs: number; maxViewersPerRoom: number; viewersPerAddress: number; edge?: HlsEdgeOptions }): HlsServer {
  const seen = new Map<string, Viewers>();
  // edge cache: path -> body, oldest first; and the fetches in flight, so that viewers asking at once share one
  const cache = new Map<string, Cached>();
  let cachedBytes = 0;
  const fetching = new Map<string, Promise<Cached | null>>();

  const fromOrigin = (roomId: string, name: string): Promise<Cached | null> => {
    const edge = opts.edge!;
    const key = `${roomId}/${name}`;
    const hit = cache.get(key);
    if (hit && hit.expiresAt > Date.now()) return Promise.resolve(hit);
    let p = fetching.get(key);
    if (!p) {
      p = (async () => {
        const base = await edge.originOf(roomId);
        if (!base) return null;
        const res = await fetch(`${base}/hls/${key}`, { headers: { [EDGE_HEADER]: edge.nodeId }, signal: AbortSignal.timeout(edge.timeoutMs) });
        if (res.status !== 200) return null;
        const body = Buffer.from(await res.arrayBuffer());
        const entry = { body, type: res.headers.get('content-type') ?? 'application/octet-stream', expiresAt: Date.now() + (name === 'index.m3u8' ? PLAYLIST_TTL_MS : SEGMENT_TTL_MS) };
        const old = cache.get(key);
        if (old) cachedBytes -= old.body.length;
        cache.delete(key);
        cache.set(key, entry);
        cachedBytes += body.length;
        for (const [k, v] of cache) {
          if (cachedBytes <= edge.cacheBytes) break;
          cache.delete(k);
          cachedBytes -= v.body.length;
        }
        return entry;
      })()
        .catch(() => null)
        .finally(() => fetching.delete(key));
      fetching.set(key, p);
    }
    return p;
  };

  const drop = (v: Viewers, who: string) => {
    const e = v.byAgent.get(who);
    if (!e) return;
    v.byAgent.delete(who);
    const mine = v.byAddress.get(e.address);
    mine?.delete(who);
    if (mine?.size === 0) v.byAddress.delete(e.address);
  };

  const prune = (roomId: string, v: Viewers, now: number) => {
    // Map order is insertion order and a refetch re-inserts: the stalest come first
    for (const [who, e] of v.byAgent) {
      if (now - e.at <= opts.viewerWindowMs) break;
      drop(v, who);
    }
    if (v.byAgent.size === 0) seen.delete(roomId);
  };

  const countViewer = (roomId: string, req: http.IncomingMessage) => {
    const now = Date.now();
    let v = seen.get(roomId);
    if (!v) seen.set(roomId, (v = { byAgent: new Map(), byAddress: new Map() }));
    const address = addressGroup(req.socket.remoteAddress ?? '');
    const who = `${address}|${req.headers['user-agent'] ?? ''}`;
    drop(v, who);
    let mine = v.byAddress.get(address);
    // past its share, an address's new user agent takes the place of its stalest one: the count stays
    if (mine && mine.size >= opts.viewersPerAddress) drop(v, mine.values().next().value!);
    if (v.byAgent.size < opts.maxViewersPerRoom) {
      v.byAgent.set(who, { address, at: now });
      mine = v.byAddress.get(address);
      if (!mine) v.byAddress.set(address, (mine = new Set()));
      mine.add(who);
    }
    prune(roomId, v, now);
  };

  const notFound = (res: http.ServerResponse) => {
    res.writeHead(404, { ...CORS_HEADERS, 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'stream_not_found', message: 'no HLS stream for this room (yet)' } }));
  };

  async function serveFromOrigin(req: http.IncomingMessage, res: http.ServerResponse, roomId: string, name: string) {
    const got = await fromOrigin(roomId, name);
    if (!got) return notFound(res);
    if (name === 'index.m3u8') countViewer(roomId, req);
    res.writeHead(200, {
      ...CORS_HEADERS,
      'Content-Type': got.type,
      'Content-Length': String(got.body.length),
      'Cache-Control': name === 'index.m3u8' ? 'no-cache, no-store' : 'public, max-age=60',
    });
    res.end(req.method === 'HEAD' ? undefined : got.body);
  }

  async function serve(req: http.IncomingMessage, res: http.ServerResponse, roomId: string, name: string) {
    const file = path.join(opts.dir, roomId, name);
    const head = req.method === 'HEAD';
    if (name === 'index.m3u8') {
      // small, rewritten (atomically, by rename) every segment: read whole
      const body = await readFile(file).catch(() => null);
      if (!body) return opts.edge ? serveFromOrigin(req, res, roomId, name) : notFound(res);
      // an edge's fetch is not a viewer: the edge counts its own
      if (req.headers[EDGE_HEADER] === undefined) countViewer(roomId, req);
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
    if (!info?.isFile()) return opts.edge ? serveFromOrigin(req, res, roomId, name) : notFound(res);
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
        if (viewers.byAgent.size > 0) out[roomId] = viewers.byAgent.size;
      }
      return out;
    },
    forget(roomId) {
      seen.delete(roomId);
    },
  };
}
