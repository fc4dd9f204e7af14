// Loaded before the server (`node --import ./dist/telemetry/instrument.js dist/main.js`) so Sentry can hook http,
// fetch and Fastify as they load: starts Sentry with tracing, profiling and scrubbing, or leaves it off.
// First: sets the SDK's debug-code flag before @sentry/* is evaluated.
import './sdk-debug-code.js';
import * as http from 'node:http';
import * as https from 'node:https';
import * as Sentry from '@sentry/node';
import { nodeProfilingIntegration } from '@sentry/profiling-node';
import { DELIVERY_DROP_REASONS, onTelemetryDropped, recordTelemetryDrop } from './dropped-telemetry.js';
import { profileOnlySampledSpans } from './profiling.js';
import { createTracesSampler, isUntracedRequest } from './sampler.js';
import { createScrubber } from './scrub.js';
import { loadSentrySettings, SentryConfigError, sentryWanted, type SentrySettings } from './sentry-config.js';

/** Header names that may be recorded on spans and events; everything else (Authorization, cookies) is not. */
const SAFE_REQUEST_HEADERS = ['host', 'user-agent', 'accept', 'content-type', 'content-length', 'x-request-id'];
const SAFE_RESPONSE_HEADERS = ['content-type', 'content-length'];

/**
 * The default integrations this server has a use for. The rest instrument libraries it does not load (Express,
 * databases, other AI SDKs) or add data to every event: Modules sends the whole dependency list with each
 * transaction, i.e. ten times a second per sampled session (the release already names the build). Redis is left
 * out on purpose: its command spans would quote EVALSHA arguments, i.e. the audio; the store's own cache.* spans
 * cover it. Http and Context are configured in init below.
 */
const USED_DEFAULT_INTEGRATIONS = new Set([
  'EventFilters',
  'FunctionToString',
  'LinkedErrors',
  'RequestData',
  'NodeSystemError',
  'Console',
  'NodeFetch',
  'OnUncaughtException',
  'OnUnhandledRejection',
  'ContextLines',
  'ChildProcess',
  'ProcessSession',
  'Fastify',
  'OpenAI',
]);

function readSettings(): SentrySettings {
  try {
    return loadSentrySettings();
  } catch (error) {
    if (!(error instanceof SentryConfigError)) throw error;
    console.error(`Cannot start: ${error.message}`);
    process.exit(1);
  }
}

/**
 * The SDK's HTTP transport, sized for this server's event rate, and counting what it drops. Each transaction is
 * one request; the buffer holds every envelope being sent or waiting for a connection, and one more is dropped
 * as `queue_overflow`. The SDK's own agent opens at most 30 connections without keep-alive (a TCP and TLS
 * handshake per envelope); this one keeps `transportConcurrency` connections alive. With a proxy configured the
 * SDK's proxy agent is kept.
 */
function transport(settings: SentrySettings): NonNullable<Sentry.NodeOptions['transport']> {
  const agentOptions = { keepAlive: true, maxSockets: settings.transportConcurrency, timeout: 2000 };
  const agents = { 'http:': new http.Agent(agentOptions), 'https:': new https.Agent(agentOptions) };
  const proxied = Boolean(process.env.https_proxy || process.env.http_proxy);
  const httpModule = {
    request(options: http.RequestOptions, callback?: (response: http.IncomingMessage) => void) {
      const secure = options.protocol === 'https:';
      const agent = secure ? agents['https:'] : agents['http:'];
      return (secure ? https : http).request({ ...options, agent }, callback);
    },
  };
  return (options) =>
    Sentry.makeNodeTransport({
      ...options,
      keepAlive: true,
      ...(proxied ? {} : { httpModule: httpModule as Parameters<typeof Sentry.makeNodeTransport>[0]['httpModule'] }),
      recordDroppedEvent: (reason, category, count) => {
        options.recordDroppedEvent(reason, category, count);
        if (DELIVERY_DROP_REASONS.has(reason)) recordTelemetryDrop(reason, category, count);
      },
    });
}

function start(settings: SentrySettings): void {
  const scrub = createScrubber(settings.secrets);
  const client = Sentry.init({
    dsn: settings.dsn,
    spotlight: settings.spotlight,
    environment: settings.environment,
    release: settings.release,
    debug: settings.debug,
    transport: transport(settings),
    // Sizes both buffers: the client's (events being processed and sent) and the transport's (requests).
    transportOptions: { bufferSize: settings.transportBufferSize },
    traceLifecycle: settings.traceLifecycle,
    tracesSampler: createTracesSampler(settings.tracesSampleRate, { trustClientSampling: settings.trustClientSampling }),
    // In this SDK major `profilesSampleRate` is ignored: profiling is a per-process session that runs while
    // sampled root spans are open.
    profileSessionSampleRate: settings.profilesSampleRate,
    profileLifecycle: 'trace',
    // Trace headers go nowhere: the transcription provider must not receive them.
    tracePropagationTargets: [],
    includeLocalVariables: false,
    dataCollection: {
      userInfo: false,
      cookies: false,
      httpHeaders: { request: { allow: SAFE_REQUEST_HEADERS }, response: { allow: SAFE_RESPONSE_HEADERS } },
      // Request bodies hold audio (Socket.IO long-polls) and uploads to the engine: never collected.
      httpBodies: [],
      urlQueryParams: false,
      genAI: { inputs: false, outputs: false },
      databaseQueryData: false,
      stackFrameVariables: false,
    },
    integrations: (defaults) => [
      ...defaults.filter((integration) => USED_DEFAULT_INTEGRATIONS.has(integration.name)),
      Sentry.httpIntegration({ ignoreIncomingRequests: isUntracedRequest, maxRequestBodySize: 'none' }),
      // The app and memory contexts read process and system memory on every event, i.e. on every chunk of a
      // sampled session; the static ones (os, cpu, runtime) are read once.
      Sentry.nodeContextIntegration({ app: false, device: { cpu: true, memory: false } }),
      ...(settings.profilesSampleRate > 0 ? [nodeProfilingIntegration()] : []),
    ],
    beforeSend: (event) => scrub.event(event),
    beforeSendTransaction: (event) => scrub.event(event),
    // Static transactions are scrubbed whole (spans included) by beforeSendTransaction; streamed spans one by one.
    beforeSendSpan: settings.traceLifecycle === 'stream' ? (span) => scrub.span(span) : undefined,
    beforeBreadcrumb: (breadcrumb) => scrub.breadcrumb(breadcrumb),
  });
  if (client && settings.profilesSampleRate > 0) profileOnlySampledSpans(client);
  if (client) countClientDrops(client);
}

/**
 * The client drops too (its own buffer of events being processed is full): the SDK has no hook for it, so its
 * recordDroppedEvent is wrapped. The transport holds the original, bound, so its drops are not counted twice.
 */
function countClientDrops(client: Sentry.NodeClient): void {
  const record = client.recordDroppedEvent.bind(client);
  client.recordDroppedEvent = (reason, category, count) => {
    record(reason, category, count);
    if (DELIVERY_DROP_REASONS.has(reason)) recordTelemetryDrop(reason, category, count);
  };
}

/** How often at most a drop is logged: the first at once, then one line per period with what it dropped since. */
const DROP_LOG_PERIOD_MS = 10_000;

/** Logs what the transport drops as a warning (at most one line per period), with the totals so far. */
function logDrops(logger: { warn(object: object, message: string): void }): void {
  let pending: Record<string, number> = {};
  let timer: NodeJS.Timeout | undefined;
  let lastLog = 0;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    lastLog = Date.now();
    const dropped = pending;
    pending = {};
    const total = Object.values(dropped).reduce((sum, count) => sum + count, 0);
    logger.warn(
      { sentry_dropped: dropped },
      `Sentry dropped ${total} telemetry items (${Object.keys(dropped).join(', ')}); a full buffer means raising SENTRY_TRANSPORT_BUFFER_SIZE or lowering SENTRY_TRACES_SAMPLE_RATE`,
    );
  };
  // What is still pending at exit (the shutdown flush may drop too) is logged then.
  process.once('exit', () => {
    if (Object.keys(pending).length > 0) flush();
  });
  onTelemetryDropped((reason, category, count) => {
    if (!DELIVERY_DROP_REASONS.has(reason)) return;
    const key = `${reason}:${category}`;
    pending[key] = (pending[key] ?? 0) + count;
    if (timer) return;
    const wait = Math.max(0, lastLog + DROP_LOG_PERIOD_MS - Date.now());
    if (wait === 0) flush();
    else timer = setTimeout(flush, wait).unref();
  });
}

function describe(settings: SentrySettings): string {
  const spotlight = settings.spotlight === false ? '' : `, spotlight=${settings.spotlight === true ? 'http://localhost:8969/stream' : settings.spotlight}`;
  return `Sentry initialized: env=${settings.environment}, release=${settings.release ?? 'unknown'}, traces=${settings.tracesSampleRate}, profiles=${settings.profilesSampleRate}${spotlight}`;
}

const settings = readSettings();
const enabled = sentryWanted(settings);
if (enabled) start(settings);

// The logger loads after Sentry.init so its modules are seen by the instrumentation like the server's.
const { createLogger } = await import('../logger.js');
const levels = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);
const logLevel = levels.has(process.env.LOG_LEVEL ?? '') ? process.env.LOG_LEVEL! : 'info';
const logger = createLogger(logLevel);
if (enabled) {
  logger.info(
    { sentry: { environment: settings.environment, release: settings.release, traces: settings.tracesSampleRate, profiles: settings.profilesSampleRate } },
    describe(settings),
  );
  logDrops(logger);
} else {
  logger.info('Sentry disabled: SENTRY_DSN not set');
}
