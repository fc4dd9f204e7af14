// Codec fixtures made by the real encoders (Debian opus-tools, ffmpeg, sox) from the speech in test/fixtures, once per
// process into a temporary folder: nothing binary is committed, and a missing tool fails with the package to install.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const SOURCE = resolve(import.meta.dirname, '../../fixtures/hello.wav');

export interface CodecFixtures {
  /** The source as mono s16le at 16 kHz, and at 8 kHz (what G.711 was encoded from). */
  pcm16k: Buffer;
  pcm8k: Buffer;
  mulaw: Buffer;
  alaw: Buffer;
  /** sox's own decoding of the G.711 files, the reference for ours. */
  mulawRef: Buffer;
  alawRef: Buffer;
  /** opusenc at 24 kbit/s, mono and from a stereo copy; and a 6-channel file (mapping family 1). */
  ogg: Buffer;
  oggStereo: Buffer;
  ogg6ch: Buffer;
  /** ffmpeg libopus 24 kbit/s: a file (sized Segment, Cues) and a live stream (unknown sizes, as MediaRecorder). */
  webm: Buffer;
  webmLive: Buffer;
  webmVorbis: Buffer;
}

let cached: CodecFixtures | undefined;

function need(tool: string, pkg: string): void {
  if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
    throw new Error(`codec fixtures need ${tool}: apt-get install ${pkg} (npm run setup installs it)`);
  }
}

function run(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export function codecFixtures(): CodecFixtures {
  if (cached) return cached;
  need('sox', 'sox');
  need('opusenc', 'opus-tools');
  need('ffmpeg', 'ffmpeg');
  const dir = mkdtempSync(join(tmpdir(), 'codec-fixtures-'));
  const p = (name: string): string => join(dir, name);
  run('sox', [SOURCE, '-t', 's16', '-r', '16000', '-c', '1', p('src16k.raw')]);
  run('sox', [SOURCE, '-t', 's16', '-r', '8000', '-c', '1', p('src8k.raw')]);
  run('sox', [SOURCE, '-r', '8000', '-c', '1', '-e', 'u-law', '-t', 'ul', p('a.ul')]);
  run('sox', [SOURCE, '-r', '8000', '-c', '1', '-e', 'a-law', '-t', 'al', p('a.al')]);
  run('sox', ['-t', 'ul', '-r', '8000', '-c', '1', p('a.ul'), '-t', 's16', p('ul.raw')]);
  run('sox', ['-t', 'al', '-r', '8000', '-c', '1', p('a.al'), '-t', 's16', p('al.raw')]);
  run('sox', [SOURCE, '-c', '2', p('stereo.wav')]);
  run('sox', [SOURCE, '-c', '6', p('six.wav')]);
  run('opusenc', ['--quiet', '--bitrate', '24', SOURCE, p('a.opus')]);
  run('opusenc', ['--quiet', '--bitrate', '32', p('stereo.wav'), p('stereo.opus')]);
  run('opusenc', ['--quiet', '--bitrate', '96', p('six.wav'), p('six.opus')]);
  const ff = ['-hide_banner', '-loglevel', 'error', '-y', '-i', SOURCE, '-c:a'];
  run('ffmpeg', [...ff, 'libopus', '-b:a', '24k', '-f', 'webm', p('a.webm')]);
  run('ffmpeg', [...ff, 'libopus', '-b:a', '24k', '-f', 'webm', '-live', '1', '-cluster_time_limit', '1000', p('live.webm')]);
  run('ffmpeg', [...ff, 'libvorbis', '-f', 'webm', p('vorbis.webm')]);
  const read = (name: string): Buffer => readFileSync(p(name));
  cached = {
    pcm16k: read('src16k.raw'),
    pcm8k: read('src8k.raw'),
    mulaw: read('a.ul'),
    alaw: read('a.al'),
    mulawRef: read('ul.raw'),
    alawRef: read('al.raw'),
    ogg: read('a.opus'),
    oggStereo: read('stereo.opus'),
    ogg6ch: read('six.opus'),
    webm: read('a.webm'),
    webmLive: read('live.webm'),
    webmVorbis: read('vorbis.webm'),
  };
  return cached;
}
