// Playing a room over WHEP: a recvonly offer to playback.whep, the answer's
// tracks into the video element. Well under a second behind the streamer.
import { iceGathered } from './ice.ts';

export interface WhepSession {
  stream: MediaStream;
  /** Ends the session on the server (DELETE) and closes the connection. */
  close(): void;
  /** Called once if the connection fails or the server ends it. */
  onEnded(fn: () => void): void;
}

export async function playWhep(url: string): Promise<WhepSession> {
  const pc = new RTCPeerConnection();
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.addTransceiver('audio', { direction: 'recvonly' });
  const stream = new MediaStream();
  pc.addEventListener('track', (e) => stream.addTrack(e.track));
  try {
    await pc.setLocalDescription(await pc.createOffer());
    await iceGathered(pc);
    const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: pc.localDescription!.sdp });
    if (res.status !== 201) throw new Error(`WHEP answered ${res.status}`);
    await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
    const location = res.headers.get('Location');
    const session = location ? new URL(location, url).toString() : null;
    let ended = false;
    const endedFns: (() => void)[] = [];
    const end = () => {
      if (ended) return;
      ended = true;
      pc.close();
      for (const fn of endedFns) fn();
    };
    pc.addEventListener('connectionstatechange', () => {
      if (pc.connectionState === 'failed' || pc.connectionState === 'closed' || pc.connectionState === 'disconnected') end();
    });
    return {
      stream,
      close() {
        if (session && !ended) void fetch(session, { method: 'DELETE' }).catch(() => {});
        ended = true;
        pc.close();
      },
      onEnded(fn) {
        endedFns.push(fn);
      },
    };
  } catch (e) {
    pc.close();
    throw e;
  }
}
