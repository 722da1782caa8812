// Circuit breakers (cockatiel) around calls to dependencies: after a run of
// failures the breaker opens and calls fail at once (a fast 503) instead of
// every request waiting for a dead server; after a pause one call probes it.
import { ConsecutiveBreaker, TimeoutStrategy, circuitBreaker, handleAll, timeout, wrap, CircuitState, type IPolicy } from 'cockatiel';

export interface BreakerSettings {
  timeoutMs: number;
  failures: number;
  halfOpenAfterMs: number;
}

export interface Breaker {
  name: string;
  execute<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T>;
  isOpen(): boolean;
}

export function createBreaker(name: string, s: BreakerSettings): Breaker {
  const breaker = circuitBreaker(handleAll, {
    halfOpenAfter: s.halfOpenAfterMs,
    breaker: new ConsecutiveBreaker(s.failures),
  });
  const policy: IPolicy = wrap(breaker, timeout(s.timeoutMs, TimeoutStrategy.Aggressive));
  return {
    name,
    execute: (fn) => policy.execute(({ signal }) => fn(signal)),
    isOpen: () => breaker.state === CircuitState.Open,
  };
}
