// A WHEP client running in a Chromium page: plays a room into a new <video>.
import type { Page } from 'playwright-core';

/** Plays `whepUrl` into a new `<video id="whep">`; the page keeps the connection as `window.whepPc`. */
export function playFromPage(page: Page, url: string): Promise<{ status: number; location: string | null; body: string }> {
  return page.evaluate(async (whepUrl) => {
    const video = document.createElement('video');
    video.muted = true;
    video.autoplay = true;
    video.playsInline = true;
    video.id = 'whep';
    document.body.append(video);
    const pc = new RTCPeerConnection();
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addTransceiver('audio', { direction: 'recvonly' });
    const stream = new MediaStream();
    pc.ontrack = (e) => {
      stream.addTrack(e.track);
      video.srcObject = stream;
    };
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise<void>((resolve) => {
      if (pc.iceGatheringState === 'complete') return resolve();
      pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
    });
    const res = await fetch(whepUrl, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: pc.localDescription!.sdp });
    const body = await res.text();
    if (res.status === 201) await pc.setRemoteDescription({ type: 'answer', sdp: body });
    (window as unknown as { whepPc: RTCPeerConnection }).whepPc = pc;
    return { status: res.status, location: res.headers.get('Location'), body };
  }, url);
}
