// Makes a fresh machine able to run the tests: installs the Debian packages
// the tests drive (ffmpeg, chromium, nginx) when they are missing and we are root,
// otherwise stops with a message naming them; then builds the web app the
// browser tests load (only when web/dist is missing or out of date).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { buildWeb } from './build-web.ts';

const needed: { command: string; pkg: string }[] = [
  { command: 'ffmpeg', pkg: 'ffmpeg' },
  { command: 'ffprobe', pkg: 'ffmpeg' },
  // the browser tests drive Debian's Chromium through playwright-core (no browser download)
  { command: 'chromium', pkg: 'chromium' },
  // the cluster test's front door (test/cluster.test.ts runs deploy/nginx.conf)
  { command: 'nginx', pkg: 'nginx' },
];

// Fonts only make the browser screenshots readable (emoji gift icons, Chinese UI text): added when
// apt-get runs anyway for a required package, never a reason to run it or to fail.
const fonts: { file: string; pkg: string }[] = [
  { file: '/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf', pkg: 'fonts-noto-color-emoji' },
  { file: '/usr/share/fonts/truetype/wqy/wqy-microhei.ttc', pkg: 'fonts-wqy-microhei' },
];

// nginx lives in /usr/sbin, which a user's PATH may leave out
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0 || existsSync(`/usr/sbin/${cmd}`);
const missing = [...new Set(needed.filter((n) => !has(n.command)).map((n) => n.pkg))];
const canInstall = process.getuid?.() === 0 && has('apt-get');
if (missing.length > 0 && canInstall) missing.push(...fonts.filter((f) => !existsSync(f.file)).map((f) => f.pkg));

if (missing.length > 0) {
  if (!canInstall) {
    process.stderr.write(`The tests need these Debian packages: ${missing.join(' ')}\nInstall them with: sudo apt-get install -y ${missing.join(' ')}\n`);
    process.exit(1);
  }
  process.stdout.write(`pretest: installing ${missing.join(' ')} with apt-get\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-q'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
}

await buildWeb({ quiet: true });
