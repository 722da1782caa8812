// What the WHIP and WHEP endpoints share: their CORS headers, JSON errors,
// a size- and time-limited SDP body, the per-address bound on offers in
// flight and the wait for werift's ICE candidates.
import type http from 'node:http';
import type { RTCPeerConnection } from 'werift';

export const WEBRTC_CORS: Record<string, string> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'POST, DELETE, OPTIONS',
  'Access-Control-Allow-Headers': 'Authorization, Content-Type, If-Match',
  'Access-Control-Expose-Headers': 'Location, ETag',
  'Access-Control-Max-Age': '86400',
};

/** How long an answer waits for werift's own candidates (host ones take milliseconds). */
const ICE_GATHER_TIMEOUT_MS = 3000;

export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function replyError(res: http.ServerResponse, status: number, code: string, message: string): void {
  if (res.headersSent) return void res.destroy();
  // a client that stopped sending its body gets no keep-alive to stall on
  res.writeHead(status, { ...WEBRTC_CORS, 'Content-Type': 'application/json', ...(status === 408 ? { Connection: 'close' } : {}) });
  res.end(JSON.stringify({ error: { code, message } }));
}

/** The SDP offer, at most `max` bytes, which must have arrived in full within `timeoutMs` (a stalled client holds nothing longer). */
export function readBody(req: http.IncomingMessage, max: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const tooLarge = () => new HttpError(413, 'payload_too_large', `the SDP offer may be at most ${max} bytes`);
    if (Number(req.headers['content-length'] ?? 0) > max) return reject(tooLarge());
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => settle(new HttpError(408, 'sdp_timeout', `the SDP offer did not arrive within ${timeoutMs} ms`)), timeoutMs);
    function settle(err?: Error) {
      clearTimeout(timer);
      req.off('data', onData);
      if (err) reject(err);
      else resolve(Buffer.concat(chunks).toString('utf8'));
    }
    function onData(c: Buffer) {
      size += c.length;
      if (size > max) {
        settle(tooLarge());
        req.destroy();
      } else chunks.push(c);
    }
    req.on('data', onData);
    req.once('end', () => settle());
    // a client that goes away mid-body is its own doing, not a server error
    const aborted = () => settle(new HttpError(400, 'aborted', 'the client went away before its offer arrived'));
    req.once('error', aborted);
    req.once('close', () => !req.complete && aborted());
  });
}

/** Counts the WHIP and WHEP offers being read or answered per client address (shared by both endpoints). */
export interface OfferLimiter {
  /** A place for this request, or undefined when its address has `max` offers in flight; call the release once it is answered. */
  enter(req: http.IncomingMessage): (() => void) | undefined;
}

export function createOfferLimiter(maxPerAddress: number): OfferLimiter {
  const inFlight = new Map<string, number>();
  return {
    enter(req) {
      const address = req.socket.remoteAddress ?? '';
      const n = inFlight.get(address) ?? 0;
      if (n >= maxPerAddress) return undefined;
      inFlight.set(address, n + 1);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const left = (inFlight.get(address) ?? 1) - 1;
        if (left > 0) inFlight.set(address, left);
        else inFlight.delete(address);
      };
    },
  };
}

export const tooManyOffers = () => new HttpError(429, 'too_many_offers', 'too many WebRTC offers from this address at once; retry when one is answered');

/** Resolves once gathering is complete, or after a few seconds with what was found. */
export function waitForCandidates(pc: RTCPeerConnection): Promise<void> {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(done, ICE_GATHER_TIMEOUT_MS);
    const sub = pc.iceGatheringStateChange.subscribe((state) => state === 'complete' && done());
    function done() {
      clearTimeout(timer);
      sub.unSubscribe();
      resolve();
    }
  });
}
