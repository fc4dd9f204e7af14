// Turns the Sentry SDK's debug-log code off unless SENTRY_DEBUG asks for that log: the SDK checks its build flag
// `__SENTRY_DEBUG__` (which bundlers set to false) once as it loads, and with the flag unset it builds log lines for
// every span it starts and ends even when nothing prints them (about 6 % of the CPU per chunk
// at tracing 1.0 in three A/B pairs; see BENCHMARKS.md).
// Imported first by instrument.ts, so it runs before any @sentry module is evaluated.
import { sdkDebugWanted } from './sentry-config.js';

(globalThis as { __SENTRY_DEBUG__?: boolean }).__SENTRY_DEBUG__ = sdkDebugWanted();
