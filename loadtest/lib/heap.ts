// Heap snapshots of a running server, for telling a heap that grows to its
// steady size from a leak. The server runs with `--heapsnapshot-signal`; each
// SIGUSR2 makes V8 collect garbage and write what is still reachable, so the
// snapshot's total is the live heap, free of the GC sawtooth RSS shows.
import { readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

/** NODE_OPTIONS that make a process write a heap snapshot into `dir` on SIGUSR2. */
export const heapSnapshotOptions = (dir: string) => `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${dir}`;

/** Signals `pid` and resolves with the path of the snapshot it wrote, once the file stops growing. */
export async function takeHeapSnapshot(pid: number, dir: string, timeoutMs = 120_000): Promise<string> {
  const before = new Set(readdirSync(dir));
  process.kill(pid, 'SIGUSR2');
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    const file = readdirSync(dir).find((n) => n.endsWith('.heapsnapshot') && !before.has(n));
    if (file) {
      const size = statSync(path.join(dir, file)).size;
      // V8 writes the snapshot in one go and ends it with the strings table's closing bracket
      if (size > 0 && size === last) return path.join(dir, file);
      last = size;
    }
    if (Date.now() > deadline) throw new Error(`no heap snapshot from ${pid} within ${timeoutMs} ms`);
  }
}

export interface HeapSummary {
  totalBytes: number;
  /** Self size and count per constructor (or node type for non-objects). */
  byName: Map<string, { bytes: number; count: number }>;
}

/** Reads a .heapsnapshot file (the format Chrome DevTools reads) into totals per constructor name. */
export async function summarizeHeapSnapshot(file: string): Promise<HeapSummary> {
  const snap = JSON.parse(await readFile(file, 'utf8'));
  const fields: string[] = snap.snapshot.meta.node_fields;
  const types: string[] = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [number, number, number];
  const nodes: number[] = snap.nodes;
  const strings: string[] = snap.strings;
  const byName = new Map<string, { bytes: number; count: number }>();
  let totalBytes = 0;
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + typeAt]!]!;
    const size = nodes[i + sizeAt]!;
    totalBytes += size;
    // objects and closures by constructor name; strings, code, arrays and the rest by their type
    const key = type === 'object' || type === 'closure' ? `${type === 'closure' ? 'closure ' : ''}${strings[nodes[i + nameAt]!]}` : `(${type})`;
    const entry = byName.get(key);
    if (entry) {
      entry.bytes += size;
      entry.count++;
    } else byName.set(key, { bytes: size, count: 1 });
  }
  return { totalBytes, byName };
}

/** The names whose self size grew most from `a` to `b`. */
export function heapGrowth(a: HeapSummary, b: HeapSummary, top = 15): { name: string; bytes: number; count: number }[] {
  const names = new Set([...a.byName.keys(), ...b.byName.keys()]);
  return [...names]
    .map((name) => {
      const x = a.byName.get(name) ?? { bytes: 0, count: 0 };
      const y = b.byName.get(name) ?? { bytes: 0, count: 0 };
      return { name, bytes: y.bytes - x.bytes, count: y.count - x.count };
    })
    .sort((p, q) => q.bytes - p.bytes)
    .slice(0, top);
}
