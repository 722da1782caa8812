// Declares an API route once: the Express handler and its OpenAPI entry come
// from the same spec, so the document lists every route with the zod schemas
// that actually validate it.
import type { Request, RequestHandler, Response, Router } from 'express';
import { OpenAPIRegistry, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import { z, type ZodType } from 'zod';
import { DomainError } from '../domain/errors.ts';
import type { User } from '../domain/users.ts';
import type { Authenticator, AuthMode } from './auth.ts';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface RouteSpec<B extends ZodType, Q extends ZodType, P extends ZodType> {
  method: Method;
  /** Express-style path relative to /api, e.g. `/users/:id`. */
  path: string;
  summary: string;
  tags: string[];
  auth: AuthMode;
  body?: B;
  query?: Q;
  params?: P;
  /** Extra request headers worth documenting (e.g. Idempotency-Key). */
  headers?: ZodType;
  /** Documented only: the body of a multipart upload. */
  multipart?: ZodType;
  responses: Record<number, { description: string; schema?: ZodType }>;
  /** Route-specific middleware run after auth and before validation (uploads, limiters). */
  before?: RequestHandler[];
}

export interface HandlerInput<B, Q, P> {
  req: Request;
  res: Response;
  body: B;
  query: Q;
  params: P;
  user: User | undefined;
  ctx: { actorId: string | null; ip: string | null };
}

export type Reply = { status?: number; body?: unknown; headers?: Record<string, string> } | void;

export interface Api {
  router: Router;
  registry: OpenAPIRegistry;
  auth: Authenticator;
  /** Runs after authentication on every route (per-user rate limit). */
  afterAuth: RequestHandler[];
  /** Route paths as registered, for tests that compare the document with the app. */
  routes: { method: Method; path: string }[];
}

export function validate<T extends ZodType>(schema: T, value: unknown, where: string): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => ({ path: [where, ...i.path.map(String)].join('.'), message: i.message }));
  const first = issues[0]!;
  throw new DomainError('validation_failed', `${first.path}: ${first.message}`, { issues });
}

const errorSchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()).optional() }),
});

export function route<B extends ZodType = ZodType, Q extends ZodType = ZodType, P extends ZodType = ZodType>(
  api: Api,
  spec: RouteSpec<B, Q, P>,
  handler: (input: HandlerInput<z.infer<B>, z.infer<Q>, z.infer<P>>) => Promise<Reply>,
): void {
  api.routes.push({ method: spec.method, path: spec.path });
  api.registry.registerPath(toOpenApi(spec));

  const authMw = api.auth.middleware(spec.auth);
  const run: RequestHandler = async (req, res) => {
    const params = spec.params ? validate(spec.params, req.params, 'params') : {};
    const query = spec.query ? validate(spec.query, req.query, 'query') : {};
    const body = spec.body ? validate(spec.body, req.body ?? {}, 'body') : {};
    const user = req.user as User | undefined;
    const reply = await handler({
      req,
      res,
      body: body as z.infer<B>,
      query: query as z.infer<Q>,
      params: params as z.infer<P>,
      user,
      ctx: { actorId: user?.id ?? null, ip: req.ip ?? null },
    });
    if (res.headersSent) return;
    for (const [k, v] of Object.entries(reply?.headers ?? {})) res.setHeader(k, v);
    const status = reply?.status ?? 200;
    if (reply?.body === undefined) res.status(status).end();
    else res.status(status).json(reply.body);
  };
  // The route pattern for metrics, taken while req.baseUrl still holds the mount point: an error
  // handled outside the router would otherwise see the pattern without it.
  const label: RequestHandler = (req, res, next) => {
    res.locals.routePattern = req.baseUrl + spec.path;
    next();
  };
  api.router[spec.method](spec.path, label, authMw, ...api.afterAuth, ...(spec.before ?? []), run);
}

function toOpenApi(spec: RouteSpec<ZodType, ZodType, ZodType>): RouteConfig {
  const responses: RouteConfig['responses'] = {};
  for (const [status, r] of Object.entries(spec.responses)) {
    responses[status] = r.schema ? { description: r.description, content: { 'application/json': { schema: r.schema } } } : { description: r.description };
  }
  responses['400'] ??= { description: 'Invalid input', content: { 'application/json': { schema: errorSchema } } };
  if (spec.auth === 'user' || spec.auth === 'admin')
    responses['401'] ??= { description: 'Missing, invalid or revoked token', content: { 'application/json': { schema: errorSchema } } };
  if (spec.auth === 'admin') responses['403'] ??= { description: 'Admins only', content: { 'application/json': { schema: errorSchema } } };
  responses['429'] ??= { description: 'Rate limited (see Retry-After)', content: { 'application/json': { schema: errorSchema } } };

  const request: RouteConfig['request'] = {};
  if (spec.params) request.params = spec.params as never;
  if (spec.query) request.query = spec.query as never;
  if (spec.headers) request.headers = spec.headers as never;
  if (spec.body) request.body = { required: true, content: { 'application/json': { schema: spec.body } } };
  if (spec.multipart) request.body = { required: true, content: { 'multipart/form-data': { schema: spec.multipart } } };
  return {
    method: spec.method,
    path: '/api' + spec.path.replace(/:(\w+)/g, '{$1}'),
    summary: spec.summary,
    tags: spec.tags,
    security: spec.auth === 'none' ? [] : spec.auth === 'optional' ? [{}, { bearer: [] }] : [{ bearer: [] }],
    request,
    responses,
  };
}
