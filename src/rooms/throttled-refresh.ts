// A reload of something the state shows (top fans, a lottery's entry count)
// that may be asked for on every event: it runs on the patch tick, at most once
// per interval, however many events asked for it meanwhile.

export interface ThrottledRefresh {
  /** Something changed: reload on a coming tick. */
  request(): void;
  /** On the patch tick: reloads if asked for and the last reload is more than the interval ago. */
  tick(): void;
}

export function throttledRefresh(opts: {
  /** Reports its own errors; its promise never rejects. */
  run: () => Promise<void>;
  intervalMs: number;
  /** The room's clock, so a disposed room leaves no timer behind. */
  setTimeout: (fn: () => void, ms: number) => void;
  /** Checked when the reload is due: when false the request is dropped. */
  enabled?: () => boolean;
}): ThrottledRefresh {
  let due = false;
  let loading = false;
  return {
    request() {
      due = true;
    },
    tick() {
      if (!due || loading) return;
      due = false;
      if (opts.enabled && !opts.enabled()) return;
      loading = true;
      void opts.run().finally(() => opts.setTimeout(() => (loading = false), opts.intervalMs));
    },
  };
}
