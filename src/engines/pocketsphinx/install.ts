// Where Debian's pocketsphinx keeps its en-us model, and the start-up check that the program and model are installed.
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { EngineUnavailableError } from '../engine.js';

/** Where Debian's pocketsphinx-en-us installs the model. */
export const POCKETSPHINX_MODEL_DIR = '/usr/share/pocketsphinx/model/en-us';
/** The en-us acoustic model is trained on 16 kHz audio; other session rates are resampled to it. */
export const POCKETSPHINX_SAMPLE_RATE = 16000;

/** The model files each decoder loads: acoustic model, language model, pronunciation dictionary. */
export const POCKETSPHINX_MODEL = {
  hmm: path.join(POCKETSPHINX_MODEL_DIR, 'en-us'),
  lm: path.join(POCKETSPHINX_MODEL_DIR, 'en-us.lm.bin'),
  dict: path.join(POCKETSPHINX_MODEL_DIR, 'cmudict-en-us.dict'),
} as const;

export const INSTALL_HINT =
  'TRANSCRIBER=pocketsphinx needs Debian\'s pocketsphinx and pocketsphinx-en-us: run `apt-get install pocketsphinx pocketsphinx-en-us` (or set OPENAI_API_KEY to use Whisper)';

/**
 * Throws EngineUnavailableError (with the apt-get command to fix it) unless `command` is an executable
 * and the en-us model is installed. Synchronous: it runs once, at start-up.
 */
export function assertPocketsphinxInstalled(command: string): void {
  if (!resolveCommand(command)) {
    throw new EngineUnavailableError(`${INSTALL_HINT}; "${command}" was not found or is not executable`);
  }
  for (const required of Object.values(POCKETSPHINX_MODEL)) {
    if (!exists(required)) throw new EngineUnavailableError(`${INSTALL_HINT}; the model is missing (${required})`);
  }
}

function resolveCommand(command: string): string | undefined {
  if (command.includes('/')) return isExecutableFile(command) ? command : undefined;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, command);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

function isExecutableFile(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

function exists(file: string): boolean {
  try {
    statSync(file);
    return true;
  } catch {
    return false;
  }
}
