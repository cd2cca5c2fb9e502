/** Hex as the spec writes it: spaces, `|` separators and quoted comments are ignored. */
export function hex(s: string): Uint8Array {
  const clean = s.replace(/"[^"]*"/g, '').replace(/[^0-9a-fA-F]/g, '');
  if (clean.length % 2) throw new Error(`odd hex length in ${s}`);
  return Uint8Array.from(clean.match(/../g) ?? [], (b) => parseInt(b, 16));
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

export const text = (s: string): Uint8Array => new Uint8Array(Buffer.from(s));
