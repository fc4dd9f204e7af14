// The process logger (pino): structured JSON, and audio, keys and tokens never printed.
import { pino, type Logger } from 'pino';

export function createLogger(level: string): Logger {
  return pino({
    level,
    redact: {
      paths: ['chunk', '*.chunk', 'pcm', '*.pcm', 'apiKey', '*.apiKey', 'token', '*.token', 'authorization', '*.authorization', 'headers.authorization'],
      censor: '[redacted]',
    },
  });
}
