// Passport strategies: `local` checks a username and password at login,
// `bearer` checks the access token on every other authenticated request.
import type { Request, RequestHandler, Response } from 'express';
import { Passport } from 'passport';
import { Strategy as BearerStrategy } from 'passport-http-bearer';
import { Strategy as LocalStrategy } from 'passport-local';
import { DomainError } from '../domain/errors.ts';
import type { TokenClaims, TokenService } from '../domain/tokens.ts';
import type { User, UsersService } from '../domain/users.ts';

declare module 'express-serve-static-core' {
  interface Request {
    /** Claims of the verified bearer token, when there is one. */
    auth?: TokenClaims;
  }
}

/** Who may call a route: anyone, anyone with an optional token, a logged-in user, an admin. */
export type AuthMode = 'none' | 'optional' | 'user' | 'admin';

export interface Authenticator {
  middleware(mode: AuthMode): RequestHandler;
  /** Runs the local strategy on req.body.username/password. */
  login(req: Request, res: Response): Promise<User>;
}

export function createAuthenticator(deps: { users: UsersService; tokens: TokenService }): Authenticator {
  const passport = new Passport();

  passport.use(
    'bearer',
    new BearerStrategy({ passReqToCallback: true }, (req: Request, token: string, done: (err: unknown, user?: User | false) => void) => {
      deps.tokens
        .verify(token)
        .then(async (claims) => {
          const user = await deps.users.find(claims.userId);
          if (!user) return done(null, false);
          req.auth = claims;
          done(null, user);
        })
        .catch((e) => (e instanceof DomainError && e.code === 'unauthorized' ? done(null, false) : done(e)));
    }),
  );

  passport.use(
    'local',
    new LocalStrategy({ passReqToCallback: true, session: false }, (req: Request, username: string, password: string, done) => {
      deps.users
        .authenticate(username, password, { actorId: null, ip: req.ip ?? null })
        .then((user) => done(null, user))
        .catch((e) => done(e));
    }),
  );

  const bearer: RequestHandler = (req, res, next) => {
    // Only the Authorization header (docs/api.md): passport-http-bearer would also take `access_token` from the
    // query string, where access logs, proxies and Referer headers keep it, or from a body.
    if (!req.headers.authorization) return next(new DomainError('unauthorized', 'token is missing, invalid, expired or revoked'));
    passport.authenticate('bearer', { session: false }, (err: unknown, user: User | false) => {
      if (err) return next(err);
      if (!user) return next(new DomainError('unauthorized', 'token is missing, invalid, expired or revoked'));
      req.user = user;
      next();
    })(req, res, next);
  };

  return {
    middleware(mode) {
      if (mode === 'none') return (_req, _res, next) => next();
      return (req, res, next) => {
        if (mode === 'optional' && !req.headers.authorization) return next();
        bearer(req, res, (err?: unknown) => {
          if (err) return next(err);
          if (mode === 'admin' && (req.user as User).role !== 'admin')
            return next(new DomainError('forbidden', 'only admins may do this'));
          next();
        });
      };
    },

    login(req, res) {
      return new Promise((resolve, reject) => {
        passport.authenticate('local', { session: false }, (err: unknown, user: User | false) => {
          if (err) return reject(err);
          if (!user) return reject(new DomainError('invalid_credentials', 'wrong username or password'));
          resolve(user);
        })(req, res, reject);
      });
    },
  };
}
