// A tiny line-and-area chart on uPlot, for a figure's recent history. The
// chart itself is a canvas, invisible to assistive technology: the element
// is role="img" with a summary ("Running agents, last 60 minutes, from 3 to
// 7") as its name. The colour is a design token read when the canvas is
// drawn, so a theme change (data-theme on <html>) only needs a redraw.
import { useEffect, useRef } from 'react';
import type uPlot from 'uplot';
// A stylesheet of its own in the build (a file, which the CSP's style-src
// 'self' allows), not a <style> injected at run time.
import 'uplot/dist/uPlot.min.css';
import './components.css';

export type SparkValue = number | null;

export interface SparklineProps {
  /** The points, oldest first; null is a gap (no data for that point). */
  values: readonly SparkValue[];
  /** Their times, unix seconds; evenly spaced indexes when not given. */
  times?: readonly number[];
  /** What the figures are, for the summary: "Running agents". */
  label: string;
  /** The period they cover, for the summary. */
  period?: string;
  /** The colour: a design token's custom property name. */
  color?: `--${string}`;
  /** Height in CSS pixels. */
  height?: number;
  className?: string;
}

const fmt = new Intl.NumberFormat();

/** sparklineSummary says what a sparkline shows, for its accessible name. */
export function sparklineSummary(values: readonly SparkValue[], label: string, period = 'last 60 minutes'): string {
  const known = values.filter((v): v is number => v !== null && Number.isFinite(v));
  const first = known[0];
  const last = known.at(-1);
  if (first === undefined || last === undefined) {
    return `${label}, ${period}: no data`;
  }
  if (first === last && known.every((v) => v === first)) {
    return `${label}, ${period}: steady at ${fmt.format(first)}`;
  }
  const [lo, hi] = [Math.min(...known), Math.max(...known)];
  return `${label}, ${period}: from ${fmt.format(first)} to ${fmt.format(last)}, between ${fmt.format(lo)} and ${fmt.format(hi)}`;
}

/**
 * withAlpha turns a CSS colour from a token (#rgb, #rrggbb, rgb()) into the
 * same colour with the given opacity, for the area under the line; undefined
 * when it cannot tell (the area is then left out).
 */
export function withAlpha(color: string, alpha: number): string | undefined {
  const c = color.trim();
  let m = /^#([0-9a-f])([0-9a-f])([0-9a-f])$/i.exec(c);
  if (m) {
    const [r, g, b] = [m[1], m[2], m[3]].map((h) => parseInt(`${h ?? '0'}${h ?? '0'}`, 16));
    return `rgba(${r ?? 0}, ${g ?? 0}, ${b ?? 0}, ${alpha})`;
  }
  m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(c);
  if (m) {
    const [r, g, b] = [m[1], m[2], m[3]].map((h) => parseInt(h ?? '0', 16));
    return `rgba(${r ?? 0}, ${g ?? 0}, ${b ?? 0}, ${alpha})`;
  }
  m = /^rgba?\(\s*(\d+)[\s,]+(\d+)[\s,]+(\d+)/i.exec(c);
  if (m) {
    return `rgba(${m[1] ?? '0'}, ${m[2] ?? '0'}, ${m[3] ?? '0'}, ${alpha})`;
  }
  return undefined;
}

/** The token's current value on <html> (where data-theme switches them). */
function tokenColor(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#94949c';
}

/**
 * canDraw reports whether the browser can draw on a canvas: jsdom (the
 * tests) cannot, and uPlot would fail there, so the chart is left out and
 * the summary stands alone.
 */
export function canDraw(): boolean {
  try {
    return document.createElement('canvas').getContext('2d') !== null;
  } catch {
    return false;
  }
}

function alignedData(values: readonly SparkValue[], times: readonly number[] | undefined): uPlot.AlignedData {
  const xs = values.map((_, i) => times?.[i] ?? i);
  return [xs, values.map((v) => (v !== null && Number.isFinite(v) ? v : null))];
}

export function Sparkline({ values, times, label, period, color = '--color-accent', height = 36, className }: SparklineProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  // The latest props, for the chart created asynchronously (uPlot is loaded
  // on first use, which keeps it out of the first page's bundle).
  const latest = useRef({ values, times, color, height });
  useEffect(() => {
    latest.current = { values, times, color, height };
  });

  // Create the chart once, follow the box's width and the theme.
  useEffect(() => {
    const el = box.current;
    if (!el || !canDraw()) {
      return;
    }
    let cancelled = false;
    let resize: ResizeObserver | undefined;
    let themes: MutationObserver | undefined;
    void import('uplot').then(({ default: UPlot }) => {
      if (cancelled) {
        return;
      }
      const stroke = () => tokenColor(latest.current.color);
      const opts: uPlot.Options = {
        width: Math.max(el.clientWidth, 1),
        height: latest.current.height,
        pxAlign: false,
        cursor: { show: false },
        select: { show: false, left: 0, top: 0, width: 0, height: 0 },
        legend: { show: false },
        padding: [3, 2, 3, 2],
        axes: [{ show: false }, { show: false }],
        scales: {
          x: { time: false },
          y: {
            // From zero, so a count's line is not exaggerated by a tight range.
            range: (_u, min, max) => [Math.min(0, min), Math.max(max, 1) * 1.15],
          },
        },
        series: [
          {},
          {
            stroke,
            fill: () => withAlpha(stroke(), 0.18) ?? 'transparent',
            width: 2,
            points: { show: false },
            spanGaps: false,
          },
        ],
      };
      plot.current = new UPlot(opts, alignedData(latest.current.values, latest.current.times), el);
      resize = new ResizeObserver(() => {
        const w = el.clientWidth;
        if (plot.current && w > 0 && w !== plot.current.width) {
          plot.current.setSize({ width: w, height: latest.current.height });
        }
      });
      resize.observe(el);
      // The stroke and fill are read at draw time: a redraw picks up the new theme.
      themes = new MutationObserver(() => {
        plot.current?.redraw(false);
      });
      themes.observe(document.documentElement, { attributes: true, attributeFilter: ['data-theme'] });
    });
    return () => {
      cancelled = true;
      resize?.disconnect();
      themes?.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, []);

  useEffect(() => {
    plot.current?.setData(alignedData(values, times));
  }, [values, times]);

  useEffect(() => {
    plot.current?.redraw(false);
  }, [color]);

  return (
    <div
      ref={box}
      className={className ? `sparkline ${className}` : 'sparkline'}
      role="img"
      aria-label={sparklineSummary(values, label, period)}
      style={{ height }}
    />
  );
}
