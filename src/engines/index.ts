// Picks and builds the transcription engine the configuration asks for, stopping start-up when it cannot run here.
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { EngineUnavailableError, type TranscriptionEngine } from './engine.js';
import { createOpenAIEngine } from './openai.js';
import { createPocketsphinxEngine } from './pocketsphinx/engine.js';
import { withFallback } from './fallback.js';
import { assertPocketsphinxInstalled } from './pocketsphinx/install.js';

export { EngineError, EngineUnavailableError } from './engine.js';
export type { EngineResult, SegmentAudio, TranscriptionEngine } from './engine.js';
export { createOpenAIEngine, type OpenAIEngineOptions } from './openai.js';
export { withFallback, type FallbackEngine } from './fallback.js';
export { createPocketsphinxEngine, type PocketsphinxEngine, type PocketsphinxEngineOptions } from './pocketsphinx/engine.js';
export { assertPocketsphinxInstalled, POCKETSPHINX_MODEL_DIR, POCKETSPHINX_SAMPLE_RATE } from './pocketsphinx/install.js';

/**
 * The engine for `config.engine.transcriber`. Throws EngineUnavailableError when pocketsphinx is chosen but not
 * installed, or when openai is chosen without a key. OpenAI reachability is not checked here: a network
 * blip at boot should not stop the server; readiness calls `engine.check()`.
 */
export async function createEngine({ engine }: Pick<Config, 'engine'>, logger?: Logger): Promise<TranscriptionEngine> {
  const primary = await createPrimary({ engine }, logger);
  const fallback = engine.fallback;
  if (!fallback) return primary;
  const second =
    fallback.kind === 'pocketsphinx'
      ? await createPrimary({ engine: { ...engine, transcriber: 'pocketsphinx' } }, logger)
      : createOpenAIEngine({ apiKey: fallback.apiKey, baseUrl: fallback.baseUrl, model: fallback.model, maxRetries: 0, timeoutMs: engine.timeoutMs, logger });
  return withFallback(primary, second, engine.breaker, logger);
}

async function createPrimary({ engine }: Pick<Config, 'engine'>, logger?: Logger): Promise<TranscriptionEngine> {
  const { model, timeoutMs, pocketsphinx } = engine;
  switch (engine.transcriber) {
    case 'openai': {
      const { apiKey, baseUrl } = engine.openai;
      if (!apiKey) throw new EngineUnavailableError('TRANSCRIBER=openai needs OPENAI_API_KEY (or set TRANSCRIBER=pocketsphinx)');
      // Retries are the engine scheduler's (ENGINE_MAX_RETRIES), so it sees every 429 and lowers its limit.
      return createOpenAIEngine({ apiKey, baseUrl, model, maxRetries: 0, timeoutMs, logger });
    }
    case 'pocketsphinx': {
      assertPocketsphinxInstalled(pocketsphinx.command);
      return createPocketsphinxEngine({
        command: pocketsphinx.command,
        decoders: pocketsphinx.decoders,
        search: pocketsphinx.search,
        // ENGINE_TIMEOUT_MS bounds one attempt of either engine.
        timeoutMs,
        logger,
      });
    }
  }
}
