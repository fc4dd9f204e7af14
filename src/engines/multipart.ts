// A multipart/form-data body (RFC 7578) built as one buffer: the segment upload's fields and its WAV file, copied
// once. The openai SDK's own route (File, FormData, then the fetch reading the File back) copied the segment twice
// more per upload, and at hundreds of sessions those copies drove most of the server's major GCs
// (BENCHMARKS.md, "Ack path, per chunk").
import { randomBytes } from 'node:crypto';

export interface MultipartFile {
  name: string;
  filename: string;
  contentType: string;
  /** The file's bytes in order (e.g. a WAV header and the PCM it describes). */
  parts: Uint8Array[];
}

export interface MultipartBody {
  contentType: string;
  body: Buffer;
}

/** A field given several values (e.g. `timestamp_granularities[]`) is sent once per value, in order. */
export function multipartBody(fields: Record<string, string | readonly string[]>, file: MultipartFile): MultipartBody {
  const boundary = `----segment${randomBytes(12).toString('hex')}`;
  let head = '';
  for (const [name, values] of Object.entries(fields)) {
    for (const value of typeof values === 'string' ? [values] : values) {
      head += `--${boundary}\r\nContent-Disposition: form-data; name="${escaped(name)}"\r\n\r\n${value}\r\n`;
    }
  }
  head +=
    `--${boundary}\r\nContent-Disposition: form-data; name="${escaped(file.name)}"; filename="${escaped(file.filename)}"\r\n` +
    `Content-Type: ${file.contentType}\r\n\r\n`;
  const tail = `\r\n--${boundary}--\r\n`;
  const body = Buffer.concat([Buffer.from(head), ...file.parts, Buffer.from(tail)]);
  return { contentType: `multipart/form-data; boundary=${boundary}`, body };
}

/** Field and file names as RFC 7578 escapes them (values are the caller's own: model names, codes, a prompt). */
function escaped(text: string): string {
  return text.replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}
