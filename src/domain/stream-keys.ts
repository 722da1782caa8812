// Stream keys: the secret a publisher (OBS, ffmpeg, a WHIP client) proves it
// may go live in a room with. Only the hash is stored; the key itself is shown
// at room creation and rotation.
import { createHash, randomBytes } from 'node:crypto';

const STREAM_KEY_BYTES = 24; // 192 random bits
/** The only shape a stream key can have: anything else is refused before a lookup. */
const STREAM_KEY = /^lr_[A-Za-z0-9_-]{32}$/;

export const hashStreamKey = (key: string) => createHash('sha256').update(key).digest('hex');
export const newStreamKey = () => `lr_${randomBytes(STREAM_KEY_BYTES).toString('base64url')}`;
export const isStreamKey = (key: string) => STREAM_KEY.test(key);
