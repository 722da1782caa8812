// A third-party WHIP client running in a Chromium page (fake camera and
// microphone): what the tests and the WHIP benchmark publish with.
import type { Page } from 'playwright-core';

/**
 * Publishes to `whipUrl` with `key`; the page keeps the connection as `window.whipPc`.
 * `holdMedia`: the tracks are negotiated but no media is sent until `sendHeldMedia(page)`.
 */
export function publishFromPage(
  page: Page,
  whipUrl: string,
  key: string,
  size = { width: 640, height: 360 },
  opts: { holdMedia?: boolean } = {},
): Promise<{ status: number; location: string | null; body: string }> {
  return page.evaluate(
    async ([url, streamKey, w, h, hold]) => {
      const stream = await navigator.mediaDevices.getUserMedia({ video: { width: w, height: h }, audio: true });
      const pc = new RTCPeerConnection();
      const held: [RTCRtpSender, MediaStreamTrack][] = [];
      for (const track of stream.getTracks()) {
        if (!hold) pc.addTransceiver(track, { direction: 'sendonly' });
        // a sender without a track sends no RTP until replaceTrack()
        else held.push([pc.addTransceiver(track.kind, { direction: 'sendonly', streams: [stream] }).sender, track]);
      }
      await pc.setLocalDescription(await pc.createOffer());
      await new Promise<void>((resolve) => {
        if (pc.iceGatheringState === 'complete') return resolve();
        pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
      });
      const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${streamKey}` }, body: pc.localDescription!.sdp });
      const body = await res.text();
      if (res.status === 201) await pc.setRemoteDescription({ type: 'answer', sdp: body });
      Object.assign(window, { whipPc: pc, whipHeld: held });
      return { status: res.status, location: res.headers.get('Location'), body };
    },
    [whipUrl, key, size.width, size.height, opts.holdMedia ?? false] as const,
  );
}

/** Starts sending the media of a `holdMedia` publish. */
export function sendHeldMedia(page: Page): Promise<void> {
  return page.evaluate(async () => {
    for (const [sender, track] of (window as unknown as { whipHeld: [RTCRtpSender, MediaStreamTrack][] }).whipHeld) await sender.replaceTrack(track);
  });
}

/** The page's WHIP peer connection state. */
export const whipState = (page: Page): Promise<RTCPeerConnectionState> => page.evaluate(() => (window as unknown as { whipPc: RTCPeerConnection }).whipPc.connectionState);
