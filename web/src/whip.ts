// Publishing from this browser over WHIP (RFC 9725): the camera and microphone
// go to the room's whipUrl with its stream key; the server bridges them into the
// same broadcast OBS would make. No trickle ICE: the offer carries its candidates.
import { LiveroomError } from '../../src/client/index.ts';
import { iceGathered } from './ice.ts';

export interface WhipPublish {
  /** Ends the session on the server (DELETE) and stops the camera. */
  stop(): Promise<void>;
  /** Called once if the connection fails or the server ends it. */
  onEnded(fn: () => void): void;
}

export async function publishWhip(whipUrl: string, streamKey: string, stream: MediaStream): Promise<WhipPublish> {
  const pc = new RTCPeerConnection();
  for (const track of stream.getTracks()) pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
  const stopTracks = () => stream.getTracks().forEach((t) => t.stop());
  try {
    await pc.setLocalDescription(await pc.createOffer());
    await iceGathered(pc);
    const res = await fetch(whipUrl, {
      method: 'POST',
      headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${streamKey}` },
      body: pc.localDescription!.sdp,
    });
    const body = await res.text();
    if (res.status !== 201) {
      let code = 'whip_failed';
      let message = `HTTP ${res.status}`;
      try {
        const e = (JSON.parse(body) as { error?: { code?: string; message?: string } }).error;
        code = e?.code ?? code;
        message = e?.message ?? message;
      } catch {
        // not JSON: keep the status
      }
      throw new LiveroomError(res.status, code, message); // the server's {error: {code, message}}, as the SDK reports it
    }
    await pc.setRemoteDescription({ type: 'answer', sdp: body });
    const location = res.headers.get('Location');
    const session = location ? new URL(location, whipUrl).toString() : null;
    let ended = false;
    const endedFns: (() => void)[] = [];
    const end = () => {
      if (ended) return;
      ended = true;
      stopTracks();
      pc.close();
      for (const fn of endedFns) fn();
    };
    let lost: number | undefined;
    pc.addEventListener('connectionstatechange', () => {
      window.clearTimeout(lost);
      if (pc.connectionState === 'failed' || pc.connectionState === 'closed') end();
      // the server hung up (broadcast ended, key rotated): browsers report that as 'disconnected' for a while first
      else if (pc.connectionState === 'disconnected') lost = window.setTimeout(end, 5000);
    });
    return {
      async stop() {
        if (session && !ended) await fetch(session, { method: 'DELETE' }).catch(() => {}); // the server also notices the peer go
        end();
      },
      onEnded(fn) {
        endedFns.push(fn);
      },
    };
  } catch (e) {
    stopTracks();
    pc.close();
    throw e;
  }
}
