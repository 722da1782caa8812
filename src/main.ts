// Composition root: read the config, start the roles, stop cleanly on signals.
import { ConfigError, loadConfig } from './config.ts';
import { DataDirInUseError } from './db/data-dir-lock.ts';
import { maskProcessOutput, maskStreamKeys } from './logger.ts';
import { startLiveroom } from './server.ts';
import { roomUrls } from './settings.ts';

// stream keys must not reach the output by any way (a dependency's console, a start-up error)
maskProcessOutput();

let config;
try {
  config = loadConfig(process.env, process.argv.slice(2));
} catch (e) {
  if (e instanceof ConfigError) {
    process.stderr.write(`liveroom: ${e.message}\n`);
    process.exit(2);
  }
  throw e;
}

let liveroom;
try {
  liveroom = await startLiveroom(config);
} catch (e) {
  if (e instanceof DataDirInUseError) {
    process.stderr.write(`liveroom: ${e.message}\n`);
    process.exit(2);
  }
  // Node would print an uncaught error straight to the stderr file descriptor, unmasked (it may carry the media process's last words)
  process.stderr.write(`liveroom: could not start: ${maskStreamKeys(String((e as Error)?.stack ?? e))}\n`);
  process.exit(1);
}
// Printed once every role is up (/readyz is 200 from here on): where a newcomer goes next.
const lines = [`Liveroom is running at ${config.publicUrl} (API docs: ${config.publicUrl}/api/docs)`];
if (config.ROLES.includes('http')) lines.push(`  web app      ${config.publicUrl}/`, `  API docs     ${config.publicUrl}/api/docs`);
if (liveroom.media) {
  const urls = roomUrls(config, liveroom.media.urls());
  lines.push(`  RTMP (OBS)   ${urls.rtmpUrl}  (stream key: create a room in the creator console)`);
  if (urls.whipUrl) lines.push(`  WHIP         ${urls.whipUrl}`);
}
process.stdout.write(`${lines.join('\n')}\n`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    liveroom.logger.info({ signal }, 'shutting down');
    liveroom.close().then(
      () => process.exit(0),
      (err) => {
        liveroom.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}
