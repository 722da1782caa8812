// General helpers that belong to no layer.

/** Wraps a close so that a second call waits on the first instead of closing twice. */
export function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= fn());
}
