import { packr } from './packr.js';

/**
 * Batches submitted by bytes: msgpackr frames whose record bytes are raw binary (never per-record
 * objects) in a buffer whose ArrayBuffer is transferred to the worker, not cloned.
 */

export interface WireBatch {
  baseOffset: number;
  baseTimestamp: number;
  raw: Uint8Array;
}

export interface RequestFrame {
  seq: number;
  batches: WireBatch[];
}

/**
 * Packs a request frame into a buffer of its own, so its ArrayBuffer can be transferred. msgpackr packs into
 * a shared scratch buffer by default; `useBuffer` points it at a fresh one sized for the payload
 * (msgpackr wants 2 KiB of headroom) so the record bytes are copied once, into the frame.
 */
export function packFrame(frame: RequestFrame): Uint8Array {
  let payload = 0;
  for (const b of frame.batches) payload += b.raw.length + 64;
  const target = Buffer.allocUnsafeSlow(payload + 4096);
  packr.useBuffer(target);
  const out = packr.pack(frame);
  // If msgpackr had to grow past our estimate it used a buffer of its own: copy to own it.
  return out.buffer === target.buffer ? out : new Uint8Array(out);
}

export function unpackFrame(bytes: Uint8Array): RequestFrame {
  return packr.unpack(bytes) as RequestFrame;
}
