// WHIP and WHEP send one offer with every candidate (no trickle): wait for
// gathering, but not for ever (some networks never report 'complete').
export function iceGathered(pc: RTCPeerConnection, timeoutMs = 3000): Promise<void> {
  return new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    const timer = window.setTimeout(resolve, timeoutMs);
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState !== 'complete') return;
      window.clearTimeout(timer);
      resolve();
    });
  });
}
