import { LineTooLongError } from './errors.js';

/**
 * Splits a byte stream into lines (`\n`, with a `\r` before it removed), keeping bytes as bytes.
 * Yields the lines completed by each chunk with the chunk's size; the last line needs no newline.
 * Linear in the input: each chunk is searched once, and a line spread over many chunks is joined
 * once, when it ends. A line longer than `maxLine` bytes is refused as soon as it passes the limit
 * (LineTooLongError), before the rest of it is read.
 */
export async function* lineChunks(
  input: AsyncIterable<Buffer | string>,
  maxLine = Infinity,
  limitFlag?: string,
): AsyncGenerator<{ lines: Buffer[]; bytes: number }> {
  let parts: Buffer[] = []; // the unfinished line, in pieces
  let partBytes = 0;
  let lineNo = 0;
  const finish = (tail: Buffer): Buffer => {
    let line = tail;
    if (partBytes > 0) {
      line = Buffer.concat([...parts, tail], partBytes + tail.length);
      parts = [];
      partBytes = 0;
    }
    lineNo++;
    if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
    if (line.length > maxLine) throw new LineTooLongError(lineNo, maxLine, limitFlag);
    return line;
  };
  for await (const chunk of input) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    const lines: Buffer[] = [];
    let start = 0;
    for (let nl = buf.indexOf(0x0a, start); nl >= 0; nl = buf.indexOf(0x0a, start)) {
      lines.push(finish(buf.subarray(start, nl)));
      start = nl + 1;
    }
    if (start < buf.length) {
      parts.push(buf.subarray(start));
      partBytes += buf.length - start;
      // One byte of slack for a `\r` the newline may still remove.
      if (partBytes > maxLine + 1) throw new LineTooLongError(lineNo + 1, maxLine, limitFlag);
    }
    yield { lines, bytes: buf.length };
  }
  if (partBytes > 0) yield { lines: [finish(Buffer.alloc(0))], bytes: 0 };
}
