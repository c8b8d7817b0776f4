/**
 * The little of RFC 6455 that `GET /containers/{id}/attach/ws` needs: the handshake, binary
 * frames out (unmasked, as a server sends), the client's masked frames in (text or binary as
 * stdin; ping answered; close echoed), fragments joined.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { ApiError, COMMON_HEADERS } from './http.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** A client frame larger than this ends the connection (stdin comes in small pieces). */
const MAX_FRAME = 16 << 20;

export interface WsPeer {
  send(data: Buffer): void;
  close(): void;
  onMessage?: (data: Buffer) => void;
  onClose?: () => void;
}

export function wsFrame(opcode: number, data: Buffer): Buffer {
  const len = data.length;
  const head = len < 126 ? Buffer.alloc(2) : len < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  head[0] = 0x80 | opcode;
  if (len < 126) head[1] = len;
  else if (len < 65536) { head[1] = 126; head.writeUInt16BE(len, 2); } else { head[1] = 127; head.writeBigUInt64BE(BigInt(len), 2); }
  return Buffer.concat([head, data]);
}

/** Answer the handshake and hand the connection to `ready`; a request that is no websocket handshake is an error. */
export function acceptWebSocket(req: IncomingMessage, socket: Duplex, head: Buffer, ready: (peer: WsPeer) => void): void {
  const key = req.headers['sec-websocket-key'];
  if (String(req.headers.upgrade ?? '').toLowerCase() !== 'websocket' || typeof key !== 'string') throw new ApiError(400, 'websocket: not a websocket handshake');
  const accept = createHash('sha1').update(key + GUID).digest('base64');
  socket.write(['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${accept}`,
    ...Object.entries(COMMON_HEADERS).map(([k, v]) => `${k}: ${v}`)].join('\r\n') + '\r\n\r\n');
  let closed = false;
  const peer: WsPeer = {
    send: (d) => { if (!closed && !socket.destroyed) socket.write(wsFrame(2, d)); },
    close: () => {
      if (closed) return;
      closed = true;
      if (!socket.destroyed) socket.end(wsFrame(8, Buffer.from([0x03, 0xe8]))); // 1000: normal closure
    },
  };
  let buf: Buffer = Buffer.alloc(0);
  let fragments: Buffer[] = [];
  const gone = () => { const f = peer.onClose; peer.onClose = undefined; f?.(); };
  const onData = (d: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, d]) : d;
    for (;;) {
      if (buf.length < 2) return;
      const fin = (buf[0]! & 0x80) !== 0;
      const opcode = buf[0]! & 0x0f;
      const masked = (buf[1]! & 0x80) !== 0;
      let len = buf[1]! & 0x7f;
      let off = 2;
      if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); off = 4; } else if (len === 127) {
        if (buf.length < 10) return;
        const big = buf.readBigUInt64BE(2);
        if (big > BigInt(MAX_FRAME)) { socket.destroy(); gone(); return; }
        len = Number(big); off = 10;
      }
      if (len > MAX_FRAME) { socket.destroy(); gone(); return; }
      const need = off + (masked ? 4 : 0) + len;
      if (buf.length < need) return;
      const payload = Buffer.from(buf.subarray(need - len, need));
      if (masked) {
        const mask = buf.subarray(off, off + 4);
        for (let i = 0; i < payload.length; i++) payload[i] = payload[i]! ^ mask[i & 3]!;
      }
      buf = buf.subarray(need);
      if (opcode === 8) { gone(); peer.close(); return; }
      if (opcode === 9) { if (!socket.destroyed) socket.write(wsFrame(10, payload)); continue; }
      if (opcode === 10) continue;
      fragments.push(payload);
      if (fin) {
        const msg = Buffer.concat(fragments);
        fragments = [];
        if (msg.length) peer.onMessage?.(msg);
      }
    }
  };
  ready(peer);
  socket.on('data', onData);
  socket.on('close', gone);
  socket.on('end', gone);
  if (head.length) onData(head);
}
