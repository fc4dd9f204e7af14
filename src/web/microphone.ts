// Microphone capture for the page: getUserMedia into the capture worklet, which hands back 16 kHz PCM chunks.
import { CAPTURE_PROCESSOR, type PageToWorklet, type WorkletToPage } from './capture-messages.js';

export interface MicrophoneChunk {
  /** 16 kHz mono 16-bit little-endian PCM. */
  pcm: ArrayBuffer;
  levelDbfs: number;
}

/** A failure to open the microphone, already put in words for the person at the page. */
export class MicrophoneError extends Error {
  constructor(
    message: string,
    /** The browser's error name (NotAllowedError, NotFoundError...), when there was one. */
    readonly reason: string,
  ) {
    super(message);
    this.name = 'MicrophoneError';
  }
}

/** How long Stop waits for the worklet's last chunk before giving up on it (a suspended context never answers). */
const FLUSH_TIMEOUT_MS = 1000;

export class Microphone {
  private stopping: Promise<void> | undefined;

  private constructor(
    private readonly context: AudioContext,
    private readonly stream: MediaStream,
    private readonly source: MediaStreamAudioSourceNode,
    private readonly node: AudioWorkletNode,
    private readonly sink: GainNode,
  ) {}

  /**
   * Asks for the microphone and starts capturing. Call it from the Start click: browsers only let an AudioContext
   * run when a user gesture created it.
   */
  static async open(workletUrl: string, onChunk: (chunk: MicrophoneChunk) => void, onEnded: () => void): Promise<Microphone> {
    if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia) {
      throw new MicrophoneError(
        'This browser only allows the microphone on secure pages: open the page over https, or as http://localhost on the machine running the server.',
        'InsecureContext',
      );
    }
    const context = new AudioContext();
    let stream: MediaStream | undefined;
    try {
      // The processor is loaded before the microphone opens: a device starts recording as soon as it is granted, and
      // whatever it records before the worklet is connected (the first word, typically) would be lost.
      await context.audioWorklet.addModule(workletUrl).catch((error: unknown) => {
        // Chrome reports a failed module load as AbortError, which would otherwise read as a busy microphone.
        throw new MicrophoneError(`The page could not load its audio processor (${workletUrl}): reload the page. (${String(error)})`, 'WorkletLoadError');
      });
      stream = await navigator.mediaDevices.getUserMedia({
        audio: {
          channelCount: 1,
          // Recognisers are trained on natural speech; browser voice processing (meant for calls) pumps levels and
          // clips word endings, which hurts recognition and the server's silence detection.
          echoCancellation: false,
          noiseSuppression: false,
          autoGainControl: false,
        },
      });
      const source = context.createMediaStreamSource(stream);
      // channelCountMode 'max': the worklet sees the microphone's own channels and downmixes them itself.
      const node = new AudioWorkletNode(context, CAPTURE_PROCESSOR, { numberOfInputs: 1, numberOfOutputs: 1, channelCountMode: 'max' });
      // Browsers only render nodes that lead to the speakers; a muted gain keeps the worklet running without echo.
      const sink = context.createGain();
      sink.gain.value = 0;
      node.port.onmessage = (event: MessageEvent<WorkletToPage>) => {
        if (event.data.type === 'chunk') onChunk({ pcm: event.data.pcm, levelDbfs: event.data.levelDbfs });
      };
      source.connect(node);
      node.connect(sink);
      sink.connect(context.destination);
      // The track ends without Stop when the device is unplugged or the permission withdrawn mid-recording.
      stream.getAudioTracks()[0]?.addEventListener('ended', onEnded, { once: true });
      if (context.state !== 'running') await context.resume();
      return new Microphone(context, stream, source, node, sink);
    } catch (error) {
      stream?.getTracks().forEach((track) => track.stop());
      void context.close().catch(() => {});
      throw explainMicrophoneError(error);
    }
  }

  /** Stops capturing after every chunk recorded so far (including the last, shorter one) has been handed over. */
  stop(): Promise<void> {
    this.stopping ??= this.finish();
    return this.stopping;
  }

  private async finish(): Promise<void> {
    this.source.disconnect();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, FLUSH_TIMEOUT_MS);
      this.node.port.addEventListener('message', (event: MessageEvent<WorkletToPage>) => {
        if (event.data.type !== 'flushed') return;
        clearTimeout(timer);
        resolve();
      });
      this.node.port.postMessage({ type: 'flush' } satisfies PageToWorklet);
    });
    this.node.disconnect();
    this.sink.disconnect();
    this.stream.getTracks().forEach((track) => track.stop());
    await this.context.close().catch(() => {});
  }
}

/** getUserMedia and Web Audio errors, told as what happened and what to do about it. */
export function explainMicrophoneError(error: unknown): MicrophoneError {
  if (error instanceof MicrophoneError) return error;
  const name = error instanceof Error || error instanceof DOMException ? error.name : 'Error';
  const detail = error instanceof Error || error instanceof DOMException ? error.message : String(error);
  switch (name) {
    case 'NotAllowedError':
    case 'PermissionDeniedError':
      return new MicrophoneError(
        'Microphone access was refused, so there is nothing to transcribe. Allow the microphone for this site ' +
          '(the microphone or lock icon in the address bar, or your system’s privacy settings), then press Start again.',
        name,
      );
    case 'NotFoundError':
    case 'DevicesNotFoundError':
      return new MicrophoneError('No microphone was found. Plug one in (or enable it in your system settings), then press Start again.', name);
    case 'NotReadableError':
    case 'TrackStartError':
    case 'AbortError':
      return new MicrophoneError(
        'The microphone could not be opened: another application may be using it, or the system blocked it. Close that application and press Start again.',
        name,
      );
    case 'OverconstrainedError':
      return new MicrophoneError('The microphone cannot record in a format the page can use. Try another microphone.', name);
    case 'SecurityError':
      return new MicrophoneError('The browser blocked the microphone on this page (a security policy forbids it).', name);
    default:
      return new MicrophoneError(`The microphone could not be started: ${detail || name}.`, name);
  }
}
