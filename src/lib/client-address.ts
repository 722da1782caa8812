// The client's address under TRUST_PROXY, one rule for REST and rooms: Express
// gets the compiled function as its `trust proxy` (req.ip), and the rooms use
// it on the matchmaking request and the WebSocket upgrade, which Colyseus
// answers before Express and would otherwise read from X-Real-IP /
// X-Forwarded-For / X-Client-IP whoever sent them.
import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';

/** proxy-addr's trust function: is `address` (the hop `i` from the socket) a proxy we trust? */
export type TrustProxy = (address: string, i: number) => boolean;

// proxy-addr is what Express's req.ip uses (CommonJS, no types of its own).
const proxyaddr = createRequire(import.meta.url)('proxy-addr') as {
  (req: IncomingMessage, trust: TrustProxy): string;
  compile(addresses: string[]): TrustProxy;
};

/** TRUST_PROXY (as config.ts parses it) compiled as Express compiles `trust proxy`. */
export function compileTrustProxy(value: string | number | boolean): TrustProxy {
  if (value === true) return () => true;
  if (value === false) return () => false;
  if (typeof value === 'number') return (_address, i) => i < value;
  return proxyaddr.compile(value.split(',').map((v) => v.trim()));
}

/** The address Express's req.ip would give for `req`: the socket's, or X-Forwarded-For's as far as proxies are trusted. */
export const clientAddress = (req: IncomingMessage, trust: TrustProxy): string => proxyaddr(req, trust);

/**
 * Sets X-Real-IP of `req` (the header Colyseus reads first) to the address
 * TRUST_PROXY gives, so a client's own X-Real-IP, X-Forwarded-For or
 * X-Client-IP counts only as far as a trusted proxy vouches for it.
 * X-Forwarded-For stays as it came (Express reads it under the same rule).
 */
export function pinClientAddress(req: IncomingMessage, trust: TrustProxy): void {
  req.headers['x-real-ip'] = clientAddress(req, trust);
}
