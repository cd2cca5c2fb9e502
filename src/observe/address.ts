import { isIP } from 'node:net';
import { HttpAddressError } from './errors.js';

export interface HttpAddress {
  host: string;
  port: number;
  /** Only this machine can connect (127.0.0.0/8, ::1, localhost). */
  loopback: boolean;
}

/**
 * Parses `9464`, `:9464`, `host:9464` or `[::1]:9464`. A bare port binds to 127.0.0.1: the
 * endpoint shows stream names and error texts, so it stays on this machine unless told otherwise.
 */
export function parseHttpAddress(text: string): HttpAddress {
  const s = text.trim();
  let host = '127.0.0.1';
  let portText = s;
  const v6 = /^\[([^\]]+)\]:(.*)$/.exec(s);
  if (v6) {
    host = v6[1]!;
    portText = v6[2]!;
    if (isIP(host) !== 6) throw new HttpAddressError(text, `${host} is not an IPv6 address`);
  } else if (s.includes(':')) {
    const at = s.lastIndexOf(':');
    if (s.indexOf(':') !== at) throw new HttpAddressError(text, 'an IPv6 host goes in brackets');
    if (at > 0) host = s.slice(0, at);
    portText = s.slice(at + 1);
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535)
    throw new HttpAddressError(text, `port ${JSON.stringify(portText)} is not a number from 0 to 65535`);
  return { host, port: Number(portText), loopback: isLoopback(host) };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** `host:port` as a URL authority. */
export function formatAuthority(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
