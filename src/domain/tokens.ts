// Access tokens: signed JWTs (HS256) whose id is checked against a revocation
// table on every use, so a logout takes effect at once in every process.
import { eq, lt, sql } from 'drizzle-orm';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import type { Executor } from '../db/connect.ts';
import { revokedTokens } from '../db/schema.ts';
import { recordAudit } from './audit.ts';
import { DomainError } from './errors.ts';
import { newId } from './ids.ts';

export interface TokenClaims {
  userId: string;
  jti: string;
  expiresAt: Date;
}

export interface TokenService {
  issue(userId: string): Promise<{ token: string; expiresAt: Date }>;
  /** Verifies signature, expiry and revocation; throws `unauthorized`. */
  verify(token: string): Promise<TokenClaims>;
  /** Like verify, but tells a revoked token (logged out: refuse) from a malformed or expired one (treat as absent). */
  check(token: string): Promise<{ state: 'valid'; claims: TokenClaims } | { state: 'revoked' | 'invalid' }>;
  /** Logs out: the revocation and its `auth.logout` audit entry commit together. */
  revoke(claims: TokenClaims, ctx: { ip: string | null }): Promise<void>;
  purgeExpired(): Promise<number>;
}

/** Verified signatures remembered per token (bounded): verifying one costs ~0.2 ms of CPU, far more than the lookup. */
const VERIFIED_CACHE_MAX = 10_000;

export function createTokenService(deps: { db: Executor; secret: string; ttlSec: number }): TokenService {
  const key = new TextEncoder().encode(deps.secret);
  const invalid = () => new DomainError('unauthorized', 'token is missing, invalid, expired or revoked');
  // The signature and expiry of a given token string never change, so a good
  // verification can be reused until the token expires; revocation is still
  // checked in the database on every use.
  const verified = new Map<string, { sub: string; jti: string; exp: number }>();
  const revokedQuery = deps.db
    .select({ jti: revokedTokens.jti })
    .from(revokedTokens)
    .where(eq(revokedTokens.jti, sql.placeholder('jti')))
    .limit(1)
    .prepare('tokens_revoked_by_jti');

  async function verifySignature(token: string): Promise<{ sub: string; jti: string; exp: number }> {
    const hit = verified.get(token);
    if (hit && hit.exp * 1000 > Date.now()) return hit;
    let payload;
    try {
      ({ payload } = await jwtVerify(token, key, { algorithms: ['HS256'] }));
    } catch (e) {
      if (e instanceof joseErrors.JOSEError || e instanceof TypeError) throw invalid();
      throw e;
    }
    if (!payload.sub || !payload.jti || !payload.exp) throw invalid();
    const claims = { sub: payload.sub, jti: payload.jti, exp: payload.exp };
    if (verified.size >= VERIFIED_CACHE_MAX) verified.clear();
    verified.set(token, claims);
    return claims;
  }

  return {
    async issue(userId) {
      const expiresAt = new Date(Date.now() + deps.ttlSec * 1000);
      const token = await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(userId)
        .setJti(newId())
        .setIssuedAt()
        .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
        .sign(key);
      return { token, expiresAt };
    },

    async verify(token) {
      const payload = await verifySignature(token);
      const revoked = await revokedQuery.execute({ jti: payload.jti });
      if (revoked.length > 0) throw invalid();
      return { userId: payload.sub, jti: payload.jti, expiresAt: new Date(payload.exp * 1000) };
    },

    async check(token) {
      let payload;
      try {
        payload = await verifySignature(token);
      } catch (e) {
        if (e instanceof DomainError) return { state: 'invalid' };
        throw e;
      }
      const revoked = await revokedQuery.execute({ jti: payload.jti });
      if (revoked.length > 0) return { state: 'revoked' };
      return { state: 'valid', claims: { userId: payload.sub, jti: payload.jti, expiresAt: new Date(payload.exp * 1000) } };
    },

    async revoke(claims, ctx) {
      await deps.db.transaction(async (tx) => {
        await tx.insert(revokedTokens).values({ jti: claims.jti, expiresAt: claims.expiresAt }).onConflictDoNothing();
        await recordAudit(tx, { actorId: claims.userId, action: 'auth.logout', target: claims.userId, ip: ctx.ip });
      });
    },

    async purgeExpired() {
      const rows = await deps.db.delete(revokedTokens).where(lt(revokedTokens.expiresAt, new Date())).returning();
      return rows.length;
    },
  };
}
