// A third-party WHIP client running in a Chromium page (fake camera and
// microphone): what the tests and the WHIP benchmark publish with.
import type { Page } from 'playwright-core';

/** Publishes to `whipUrl` with `key`; the page keeps the connection as `window.whipPc`. */
export function publishFromPage(page: Page, whipUrl: string, key: string, size = { width: 640, height: 360 }): Promise<{ status: number; location: string | null; body: string }> {
  return page.evaluate(
    async ([url, streamKey, w, h]) => {
      const stream = await navigator.mediaDevices.getUserMedia({ video: { width: w, height: h }, audio: true });
      const pc = new RTCPeerConnection();
      for (const track of stream.getTracks()) pc.addTransceiver(track, { direction: 'sendonly' });
      await pc.setLocalDescription(await pc.createOffer());
      await new Promise<void>((resolve) => {
        if (pc.iceGatheringState === 'complete') return resolve();
        pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
      });
      const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${streamKey}` }, body: pc.localDescription!.sdp });
      const body = await res.text();
      if (res.status === 201) await pc.setRemoteDescription({ type: 'answer', sdp: body });
      (window as unknown as { whipPc: RTCPeerConnection }).whipPc = pc;
      return { status: res.status, location: res.headers.get('Location'), body };
    },
    [whipUrl, key, size.width, size.height] as const,
  );
}
