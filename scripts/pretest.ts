// Makes a fresh machine able to run the tests: installs the Debian packages
// the tests drive (ffmpeg, chromium) when they are missing and we are root,
// otherwise stops with a message naming them.
import { execFileSync, spawnSync } from 'node:child_process';

const needed: { command: string; pkg: string }[] = [
  { command: 'ffmpeg', pkg: 'ffmpeg' },
  { command: 'ffprobe', pkg: 'ffmpeg' },
];

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const missing = [...new Set(needed.filter((n) => !has(n.command)).map((n) => n.pkg))];

if (missing.length > 0) {
  const root = process.getuid?.() === 0;
  if (!root || !has('apt-get')) {
    process.stderr.write(`The tests need these Debian packages: ${missing.join(' ')}\nInstall them with: sudo apt-get install -y ${missing.join(' ')}\n`);
    process.exit(1);
  }
  process.stdout.write(`pretest: installing ${missing.join(' ')} with apt-get\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-q'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
}
