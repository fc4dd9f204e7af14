// One time-series chart of the dashboard: drawn with uPlot, redrawn in place when only the numbers change and
// rebuilt when the set of lines changes (a new error code), sized to its box.
import uPlot from 'uplot';

export interface Line {
  label: string;
  values: (number | null)[];
}

const COLOURS = ['#2456d6', '#1f9d6b', '#d98a00', '#b42323', '#7a3fc2', '#0f8aa6', '#8a6d3b', '#c2408f'];

export class TimeChart {
  private plot: uPlot | undefined;
  private labels = '';
  private readonly empty: HTMLParagraphElement;

  constructor(
    private readonly box: HTMLElement,
    private readonly format: (value: number) => string,
  ) {
    this.empty = document.createElement('p');
    this.empty.className = 'empty';
    this.empty.textContent = 'No data yet.';
    box.append(this.empty);
  }

  /** Draws `lines` over the point times `t` (Unix seconds); marks the box with how many values it shows. */
  update(t: number[], lines: Line[]): void {
    const points = lines.reduce((sum, line) => sum + line.values.filter((v) => v !== null).length, 0);
    this.box.dataset.points = String(points);
    this.empty.hidden = points > 0;
    const labels = lines.map((l) => l.label).join('\n');
    const data = [t, ...lines.map((l) => l.values)] as uPlot.AlignedData;
    if (this.plot && labels === this.labels) {
      this.plot.setData(data);
      return;
    }
    this.plot?.destroy();
    this.labels = labels;
    const format = this.format;
    this.plot = new uPlot(
      {
        width: Math.max(300, this.box.clientWidth - 20),
        height: 240,
        series: [
          {},
          ...lines.map((line, i) => ({
            label: line.label,
            stroke: COLOURS[i % COLOURS.length],
            width: 1.5,
            spanGaps: false,
            value: (_u: uPlot, v: number | null) => (v === null ? '—' : format(v)),
          })),
        ],
        axes: [{}, { values: (_u, ticks) => ticks.map(format), size: 60 }],
        // From zero, with headroom; an all-zero chart (no refusals) gets 0–1 rather than a range of nothing.
        scales: { y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
        legend: { live: true },
      },
      data,
      this.box,
    );
  }

  resize(): void {
    this.plot?.setSize({ width: Math.max(300, this.box.clientWidth - 20), height: 240 });
  }
}
