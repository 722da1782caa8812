// WebSocket framing for the WS-FLV fan-out, without I/O: a batch is framed once
// and the same bytes are written to every WebSocket viewer.

/** A final, unmasked binary WebSocket frame (RFC 6455 section 5.2) carrying `data`. */
export function wsBinaryFrame(data: Buffer): Buffer {
  const n = data.length;
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(head + n);
  frame[0] = 0x82; // FIN + binary
  if (n < 126) frame[1] = n;
  else if (n < 65536) {
    frame[1] = 126;
    frame.writeUInt16BE(n, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(n / 2 ** 32), 2);
    frame.writeUInt32BE(n >>> 0, 6);
  }
  data.copy(frame, head);
  return frame;
}
