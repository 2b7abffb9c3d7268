// Time-series charts with uPlot (vendored, see vendor/README.md). uPlot writes labels as text.
// It is loaded only when a page draws charts, so the other pages do not parse it.

import { h } from './dom.js';

const PALETTE = ['#1f6feb', '#e8590c', '#2f9e44', '#c92a2a', '#7048e8', '#0c8599', '#d6336c', '#5c7cfa', '#868e96', '#f08c00'];

let library = null;
/** Loads uPlot (once) from the console's own files. */
export function loadCharts() {
  if (window.uPlot) return Promise.resolve();
  library ??= new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = 'vendor/uPlot.iife.min.js';
    script.onload = resolve;
    script.onerror = () => { library = null; reject(new Error('The chart library did not load.')); };
    document.head.append(script);
  });
  return library;
}

/** A colour per series index. */
export const colour = (i) => PALETTE[i % PALETTE.length];

/**
 * A chart card: `xs` are Unix seconds, `lines` are `{label, values, dash?, colour?}` aligned with
 * `xs` (null for no value); the y axis starts at 0 and reaches at least `floor`. Returns the card;
 * the plot is drawn once the card is in the page.
 */
export function chart(title, xs, lines, format = (v) => String(v), floor = 0) {
  const plot = h('div', { class: 'plot' });
  const card = h('section', { class: 'chart card', 'aria-label': title }, h('h3', {}, title), plot);
  if (!window.uPlot) {
    plot.append('The chart library did not load.');
    return card;
  }
  if (!lines.length || !xs.length) {
    plot.append(h('p', { class: 'muted empty' }, 'No requests in this range.'));
    return card;
  }
  const opts = {
    width: 400,
    height: 200,
    legend: { live: true },
    cursor: { drag: { x: false, y: false } },
    scales: {
      x: { time: true, range: [xs[0], xs[xs.length - 1]] },
      y: { range: (_, min, max) => [0, Math.max(floor, max > 0 ? max * 1.1 : 1)] },
    },
    // Times in UTC, like the rest of the console.
    tzDate: (ts) => window.uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC'),
    axes: [{}, { size: 76, values: (_, ticks) => ticks.map(format) }],
    series: [{}, ...lines.map((l, i) => ({
      label: l.label,
      stroke: l.colour || colour(i),
      width: 1.5,
      dash: l.dash,
      // Points where a line has too few values to draw one.
      points: { show: l.values.filter((v) => v !== null && v !== undefined).length < 3, size: 5 },
      value: (_, v) => (v === null || v === undefined ? '–' : format(v)),
    }))],
  };
  const data = [xs, ...lines.map((l) => l.values)];
  // Draw when the card has its width; follow resizes.
  requestAnimationFrame(() => {
    if (!plot.isConnected) return;
    const width = () => Math.max(240, plot.clientWidth);
    const u = new window.uPlot({ ...opts, width: width() }, data, plot);
    new ResizeObserver(() => {
      if (plot.isConnected) u.setSize({ width: width(), height: 200 });
    }).observe(plot);
  });
  return card;
}
