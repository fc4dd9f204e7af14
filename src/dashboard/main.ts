// The live dashboard's controller: polls /dashboard/data (with the OPS_TOKEN from the URL fragment, if any) and
// redraws the charts and the current figures; the server keeps the 15-minute history, so a reload loses nothing.
import 'uplot/dist/uPlot.min.css';
import './styles.css';
import type { DashboardData, PercentileSeries, Series } from '../metrics/dashboard-data.js';
import { TimeChart, type Line } from './chart.js';

const ms = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const seconds = (v: number) => (v >= 10 ? v.toFixed(1) : v.toFixed(2));
const plain = (v: number) => (Number.isInteger(v) ? String(v) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

function element(id: string): HTMLElement {
  const found = document.getElementById(id);
  if (!found) throw new Error(`The dashboard page lacks #${id}`);
  return found;
}

const charts = {
  ack: new TimeChart(element('chart-ack'), ms),
  result: new TimeChart(element('chart-result'), seconds),
  throughput: new TimeChart(element('chart-throughput'), plain),
  errors: new TimeChart(element('chart-errors'), plain),
  sessions: new TimeChart(element('chart-sessions'), plain),
  engine: new TimeChart(element('chart-engine'), plain),
};

const scaled = (values: Series, factor: number): Series => values.map((v) => (v === null ? null : v * factor));
const percentiles = (p: PercentileSeries, factor = 1): Line[] =>
  (['p50', 'p75', 'p95', 'p99'] as const).map((key) => ({ label: key.toUpperCase(), values: scaled(p[key], factor) }));
const last = (values: Series): number | null => {
  for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null) return values[i]!;
  return null;
};

function tiles(data: DashboardData): void {
  const errors = Object.values(data.errorsPerS).reduce((sum, s) => sum + (s[s.length - 1] ?? 0), 0);
  const figures: [string, string][] = [
    ['Active sessions', plain(last(data.sessionsActive) ?? 0)],
    ['Chunks / s', plain(last(data.throughput.chunksPerS) ?? 0)],
    ['Audio s / s', plain(last(data.throughput.audioSecondsPerS) ?? 0)],
    ['Ack P95 (ms)', last(data.ackLatency.p95) === null ? '—' : ms(last(data.ackLatency.p95)! * 1000)],
    ['Result P95 (s)', last(data.resultLatency.p95) === null ? '—' : seconds(last(data.resultLatency.p95)!)],
    ['Refusals / s', plain(errors)],
    ['Engine queue', plain(last(data.engine.queued) ?? 0)],
  ];
  element('tiles').replaceChildren(
    ...figures.map(([label, value]) => {
      const tile = document.createElement('div');
      tile.className = 'tile';
      tile.innerHTML = '<div class="label"></div><div class="value"></div>';
      tile.querySelector('.label')!.textContent = label;
      tile.querySelector('.value')!.textContent = value;
      return tile;
    }),
  );
}

function draw(data: DashboardData): void {
  charts.ack.update(data.t, percentiles(data.ackLatency, 1000));
  charts.result.update(data.t, percentiles(data.resultLatency));
  charts.throughput.update(data.t, [
    { label: 'chunks/s', values: data.throughput.chunksPerS },
    { label: 'audio s/s', values: data.throughput.audioSecondsPerS },
    { label: 'results/s', values: data.throughput.resultsPerS },
  ]);
  const codes = Object.keys(data.errorsPerS);
  charts.errors.update(data.t, codes.length ? codes.map((code) => ({ label: code, values: data.errorsPerS[code]! })) : [{ label: 'none', values: data.t.map(() => 0) }]);
  charts.sessions.update(data.t, [
    { label: 'sessions', values: data.sessionsActive },
    { label: 'connections', values: data.connectionsActive },
  ]);
  charts.engine.update(data.t, [
    { label: 'limit', values: data.engine.limit },
    { label: 'in flight', values: data.engine.inFlight },
    { label: 'queued', values: data.engine.queued },
  ]);
  tiles(data);
}

const token = new URLSearchParams(location.hash.slice(1)).get('token') ?? undefined;
const status = element('status');

async function refresh(): Promise<number> {
  try {
    const response = await fetch('/dashboard/data', { headers: token ? { authorization: `Bearer ${token}` } : {}, cache: 'no-store' });
    if (response.status === 401) throw new Error('This server has OPS_TOKEN set: open /dashboard#token=<OPS_TOKEN>');
    if (!response.ok) throw new Error(`/dashboard/data answered ${response.status}`);
    const data = (await response.json()) as DashboardData;
    draw(data);
    status.dataset.state = 'ok';
    status.textContent = `Updated ${new Date().toLocaleTimeString()} · a point every ${data.stepS} s, each over the last ${data.rateWindowS} s`;
    return data.stepS * 1000;
  } catch (error) {
    status.dataset.state = 'error';
    status.textContent = (error as Error).message;
    return 5000;
  }
}

async function loop(): Promise<void> {
  const waitMs = await refresh();
  setTimeout(() => void loop(), waitMs);
}

addEventListener('resize', () => Object.values(charts).forEach((chart) => chart.resize()));
void loop();
