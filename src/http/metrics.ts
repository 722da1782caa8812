// Prometheus metrics. Each app gets its own registry (no global state), so
// several apps in one test process do not mix their figures.
import type { RequestHandler } from 'express';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** `registry`: shared with other parts of the process (jobs) so /metrics shows them too. */
export function createMetrics(registry = new Registry()) {
  collectDefaultMetrics({ register: registry, prefix: 'liveroom_' });
  const requests = new Counter({
    name: 'liveroom_http_requests_total',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'liveroom_http_request_duration_seconds',
    help: 'HTTP request latency by method and route',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const shed = new Counter({ name: 'liveroom_http_shed_total', help: 'Requests refused by load shedding', registers: [registry] });
  const rateLimited = new Counter({ name: 'liveroom_http_rate_limited_total', help: 'Requests answered 429', registers: [registry] });

  const middleware: RequestHandler = (req, res, next) => {
    const end = duration.startTimer();
    res.on('finish', () => {
      // The matched route pattern, never the raw URL, keeps label cardinality bounded.
      const routePath: string = res.locals.routePattern ?? (req.route?.path ? `${req.baseUrl}${req.route.path}` : 'unmatched');
      end({ method: req.method, route: routePath });
      requests.inc({ method: req.method, route: routePath, status: String(res.statusCode) });
      if (res.statusCode === 429) rateLimited.inc();
    });
    next();
  };

  return { registry, middleware, shed };
}

export type Metrics = ReturnType<typeof createMetrics>;
