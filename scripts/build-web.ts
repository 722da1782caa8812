// Builds the web app (web/ -> web/dist) with Vite when the build is missing or
// older than its sources: the web sources, the client SDK and the server types
// it imports, and the installed packages. Runs before `npm start` and
// `npm test`, so a fresh checkout needs no separate build step; with an up to
// date build it returns in milliseconds.
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const web = path.join(root, 'web');
const dist = path.join(web, 'dist');

/** Newest modification time (ms) under `p`, skipping build output and dependencies. */
function newest(p: string): number {
  let st;
  try {
    st = statSync(p);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.mtimeMs;
  let max = st.mtimeMs;
  for (const name of readdirSync(p)) {
    if (name === 'dist' || name === 'node_modules') continue;
    max = Math.max(max, newest(path.join(p, name)));
  }
  return max;
}

export function webBuildIsStale(): boolean {
  const built = newest(path.join(dist, 'index.html'));
  if (built === 0) return true;
  const sources = [web, path.join(root, 'src', 'client'), path.join(root, 'src', 'rooms'), path.join(root, 'package-lock.json')];
  return sources.some((s) => newest(s) > built);
}

export async function buildWeb(opts: { force?: boolean; quiet?: boolean } = {}): Promise<boolean> {
  if (!opts.force && !webBuildIsStale()) return false;
  const { build } = await import('vite');
  await build({ configFile: path.join(web, 'vite.config.ts'), logLevel: opts.quiet ? 'warn' : 'info' });
  return true;
}

if (import.meta.main) {
  const force = process.argv.includes('--force');
  const built = await buildWeb({ force });
  if (!built) process.stdout.write('web: web/dist is up to date\n');
}
