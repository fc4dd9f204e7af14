// Keeps trace-lifecycle profiling to sampled work, and cheap: the SDK's profiler counts every started span, but
// an unsampled span never reports its end (one /healthz probe left it running forever), and it restarts the
// CPU profiler, sending a profile chunk, for every short transaction such as each 100 ms audio chunk.
import type { NodeClient, Span } from '@sentry/node';

/** How long the profiler keeps running after the last sampled span ends, waiting for the next one. */
export const PROFILE_LINGER_MS = 2000;

/**
 * Filters the client's span hooks as the profiler sees them: unsampled spans are hidden (only the profiler and
 * the conversation-id integration, which annotates spans that are sent, listen to them), and the end of the
 * last open sampled span is held for `lingerMs`, so a stream of short transactions is one profile, not one each.
 */
export function profileOnlySampledSpans(client: NodeClient, lingerMs = PROFILE_LINGER_MS): void {
  const hidden = new WeakSet<Span>();
  const emit = client.emit.bind(client) as (hook: string, ...args: unknown[]) => void;
  let open = 0;
  let held: { span: Span; timer: NodeJS.Timeout } | undefined;

  const release = () => {
    if (!held) return;
    clearTimeout(held.timer);
    const { span } = held;
    held = undefined;
    emit('spanEnd', span);
  };

  client.emit = ((hook: string, ...args: unknown[]) => {
    if (hook !== 'spanStart' && hook !== 'spanEnd') return emit(hook, ...args);
    const span = args[0] as Span;
    if (hook === 'spanStart') {
      if (!span.isRecording()) {
        hidden.add(span);
        return;
      }
      open++;
      emit(hook, ...args);
      // The profiler saw this start before the held end: it never stops in between.
      release();
      return;
    }
    if (hidden.has(span)) return;
    open = Math.max(0, open - 1);
    if (open > 0) return emit(hook, ...args);
    release();
    held = { span, timer: setTimeout(release, lingerMs) };
    held.timer.unref();
  }) as typeof client.emit;
}
