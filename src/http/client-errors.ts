// Requests Node's HTTP parser refuses before Express sees them (headers or a
// URL past the size limit, malformed requests, header timeouts) get the same
// JSON error body as every other refusal, instead of Node's bare status line.
import type { Socket } from 'node:net';

const REPLIES: Record<string, [number, string, string, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large', 'headers_too_large', 'the request line or headers are too large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout', 'request_timeout', 'the request took too long to arrive'],
};

export function onClientError(err: NodeJS.ErrnoException, socket: Socket) {
  // A reset connection cannot be answered; a half-written reply must not be followed by another.
  if (err.code === 'ECONNRESET' || !socket.writable || (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent) {
    socket.destroy();
    return;
  }
  const [status, reason, code, message] = REPLIES[err.code ?? ''] ?? [400, 'Bad Request', 'bad_request', 'the request is malformed'];
  const body = JSON.stringify({ error: { code, message } });
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}
