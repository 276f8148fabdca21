// One key figure: its label, value and unit, how it moved (a trend arrow with
// a sentence for screen readers), a status tone, and optionally its recent
// history as a sparkline. With `to`, the whole card is a link to the page
// that lists what it counts.
import type { ReactNode } from 'react';
import { Link } from 'react-router';
import { Sparkline, type SparkValue } from './Sparkline';
import './components.css';

export type MetricTone = 'success' | 'warning' | 'error' | 'neutral';

export interface MetricTrend {
  /** The change over the period: positive is up. */
  delta: number;
  /** What it is compared with, after "from": "an hour ago". */
  since?: string;
  /** Whether up is good news (green), bad news (red) or neither. */
  upIs?: 'good' | 'bad' | 'neutral';
}

export interface MetricCardProps {
  label: string;
  value: number | string | undefined;
  unit?: string;
  /** How a number is shown (grouped digits by default). */
  format?: (n: number) => string;
  trend?: MetricTrend | undefined;
  tone?: MetricTone;
  sparkline?: { values: readonly SparkValue[]; times?: readonly number[]; period?: string; color?: `--${string}` } | undefined;
  /** A line under the value: what the figure covers, or why it is partial. */
  note?: ReactNode;
  /** A path: the whole card links there (a filtered list). */
  to?: string | undefined;
  loading?: boolean;
}

const numberFormat = new Intl.NumberFormat();

type Direction = 'up' | 'down' | 'flat';

/** trendText is the trend as a sentence: "up 3 from an hour ago". */
export function trendText(t: MetricTrend, format: (n: number) => string = (n) => numberFormat.format(n)): string {
  const since = t.since ?? 'an hour ago';
  if (t.delta === 0) {
    return `no change from ${since}`;
  }
  return `${t.delta > 0 ? 'up' : 'down'} ${format(Math.abs(t.delta))} from ${since}`;
}

function direction(delta: number): Direction {
  return delta > 0 ? 'up' : delta < 0 ? 'down' : 'flat';
}

const ARROWS: Record<Direction, string> = { up: '↑', down: '↓', flat: '→' };

function sentiment(t: MetricTrend): 'good' | 'bad' | 'neutral' {
  const d = direction(t.delta);
  if (d === 'flat' || !t.upIs || t.upIs === 'neutral') {
    return 'neutral';
  }
  const upGood = t.upIs === 'good';
  return (d === 'up') === upGood ? 'good' : 'bad';
}

const TONE_COLOR: Record<MetricTone, `--${string}`> = {
  success: '--color-success',
  warning: '--color-warning',
  error: '--color-error',
  neutral: '--color-accent',
};

export function MetricCard({
  label,
  value,
  unit,
  format = (n) => numberFormat.format(n),
  trend,
  tone = 'neutral',
  sparkline,
  note,
  to,
  loading = false,
}: MetricCardProps) {
  const shown = typeof value === 'number' ? format(value) : (value ?? '—');
  // In reading order: the label, the value, how it moved, then the history
  // (the layout puts the trend top right).
  const body = (
    <>
      <span className="metric-card-label">
        <span className="metric-card-dot" aria-hidden="true" />
        {label}
      </span>
      {loading ? (
        <>
          <span className="skeleton skeleton-value" aria-hidden="true" />
          <span className="sr-only">Loading {label}</span>
          {sparkline ? <span className="skeleton skeleton-spark" aria-hidden="true" /> : null}
        </>
      ) : (
        <>
          <span className="metric-card-value">
            <span>{shown}</span>
            {unit ? <span className="metric-card-unit">{unit}</span> : null}
          </span>
          {trend ? (
            <span className="metric-card-trend" data-direction={direction(trend.delta)} data-sentiment={sentiment(trend)}>
              <span aria-hidden="true">
                {ARROWS[direction(trend.delta)]} {trend.delta === 0 ? '' : format(Math.abs(trend.delta))}
              </span>
              <span className="sr-only">{trendText(trend, format)}</span>
            </span>
          ) : null}
          {note ? <span className="metric-card-note">{note}</span> : null}
          {sparkline ? (
            <Sparkline
              className="metric-card-spark"
              values={sparkline.values}
              times={sparkline.times}
              period={sparkline.period}
              label={label}
              color={sparkline.color ?? TONE_COLOR[tone]}
            />
          ) : null}
        </>
      )}
    </>
  );
  if (to !== undefined) {
    return (
      <Link to={to} className="metric-card" data-tone={tone} aria-busy={loading || undefined}>
        {body}
      </Link>
    );
  }
  return (
    <div className="metric-card" data-tone={tone} aria-busy={loading || undefined}>
      {body}
    </div>
  );
}
