import { act, cleanup, render, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Sparkline, sparklineSummary, withAlpha } from './Sparkline';

// A stand-in for uPlot that records what the component asks of it: jsdom
// has no canvas to draw on.
const fake = vi.hoisted(() => {
  interface Series {
    stroke?: () => string;
    fill?: () => string;
  }
  const instances: FakePlot[] = [];
  class FakePlot {
    width: number;
    data: unknown;
    redraws = 0;
    destroyed = false;
    sizes: { width: number; height: number }[] = [];
    series: Series[];
    constructor(opts: { width: number; series: Series[] }, data: unknown) {
      this.width = opts.width;
      this.series = opts.series;
      this.data = data;
      instances.push(this);
    }
    setData(d: unknown) {
      this.data = d;
    }
    setSize(s: { width: number; height: number }) {
      this.width = s.width;
      this.sizes.push(s);
    }
    redraw() {
      this.redraws++;
    }
    destroy() {
      this.destroyed = true;
    }
  }
  return { FakePlot, instances };
});

vi.mock('uplot', () => ({ default: fake.FakePlot }));

afterEach(() => {
  cleanup();
  fake.instances.length = 0;
  document.documentElement.removeAttribute('data-theme');
  document.documentElement.style.removeProperty('--color-success');
});

describe('sparklineSummary', () => {
  it('names the figure, the period and where it went', () => {
    expect(sparklineSummary([3, 5, 4, 7], 'Running agents')).toBe(
      'Running agents, last 60 minutes: from 3 to 7, between 3 and 7',
    );
    expect(sparklineSummary([null, null, 2, 1, 2], 'In error', 'last hour')).toBe(
      'In error, last hour: from 2 to 2, between 1 and 2',
    );
  });

  it('says when it is steady or has no data', () => {
    expect(sparklineSummary([4, 4, 4], 'Agents')).toBe('Agents, last 60 minutes: steady at 4');
    expect(sparklineSummary([], 'Agents')).toBe('Agents, last 60 minutes: no data');
    expect(sparklineSummary([null, null], 'Agents')).toBe('Agents, last 60 minutes: no data');
  });
});

describe('withAlpha', () => {
  it('adds an opacity to hex and rgb colours', () => {
    expect(withAlpha('#10b981', 0.2)).toBe('rgba(16, 185, 129, 0.2)');
    expect(withAlpha(' #fff ', 0.5)).toBe('rgba(255, 255, 255, 0.5)');
    expect(withAlpha('rgb(1, 2, 3)', 0.1)).toBe('rgba(1, 2, 3, 0.1)');
  });

  it('gives up on what it cannot read', () => {
    expect(withAlpha('var(--x)', 0.2)).toBeUndefined();
    expect(withAlpha('', 0.2)).toBeUndefined();
  });
});

describe('Sparkline', () => {
  it('without a canvas (jsdom) is its summary alone, and draws nothing', async () => {
    render(<Sparkline values={[1, 2, 3]} label="Running agents" />);
    const img = screen.getByRole('img', { name: 'Running agents, last 60 minutes: from 1 to 3, between 1 and 3' });
    expect(img.querySelector('canvas')).toBeNull();
    // uPlot is not even loaded.
    await new Promise((r) => setTimeout(r, 10));
    expect(fake.instances).toHaveLength(0);
  });

  it('follows new values in its summary', () => {
    const { rerender } = render(<Sparkline values={[1, 2]} label="Agents" />);
    rerender(<Sparkline values={[1, 2, 9]} label="Agents" period="last hour" />);
    expect(screen.getByRole('img').getAttribute('aria-label')).toBe('Agents, last hour: from 1 to 9, between 1 and 9');
  });

  describe('with a canvas', () => {
    function withCanvas(width: number) {
      vi.spyOn(HTMLCanvasElement.prototype, 'getContext').mockReturnValue({} as unknown as CanvasRenderingContext2D);
      vi.spyOn(HTMLElement.prototype, 'clientWidth', 'get').mockImplementation(() => width);
      const resized: (() => void)[] = [];
      vi.stubGlobal(
        'ResizeObserver',
        class {
          constructor(cb: () => void) {
            resized.push(cb);
          }
          observe(): void {
            // the callback is called by hand
          }
          disconnect(): void {
            // nothing to release
          }
        },
      );
      return resized;
    }

    it('draws at the box width, with the token colour read at draw time, and updates its data', async () => {
      withCanvas(240);
      document.documentElement.style.setProperty('--color-success', '#10b981');
      const { rerender, unmount } = render(
        <Sparkline values={[1, 2]} times={[60, 120]} label="Running" color="--color-success" />,
      );
      await waitFor(() => {
        expect(fake.instances).toHaveLength(1);
      });
      const plot = fake.instances[0];
      if (!plot) {
        throw new Error('no plot');
      }
      expect(plot.width).toBe(240);
      expect(plot.data).toEqual([
        [60, 120],
        [1, 2],
      ]);
      expect(plot.series[1]?.stroke?.()).toBe('#10b981');
      expect(plot.series[1]?.fill?.()).toBe('rgba(16, 185, 129, 0.18)');

      // A theme changes the token: the next draw reads the new value.
      document.documentElement.style.setProperty('--color-success', '#047857');
      expect(plot.series[1]?.stroke?.()).toBe('#047857');

      rerender(<Sparkline values={[1, 2, null]} times={[60, 120, 180]} label="Running" color="--color-success" />);
      expect(plot.data).toEqual([
        [60, 120, 180],
        [1, 2, null],
      ]);
      unmount();
      expect(plot.destroyed).toBe(true);
    });

    it('redraws when the theme changes and resizes with its box', async () => {
      const resized = withCanvas(200);
      render(<Sparkline values={[1, 2]} label="Running" />);
      await waitFor(() => {
        expect(fake.instances).toHaveLength(1);
      });
      const plot = fake.instances[0];
      if (!plot) {
        throw new Error('no plot');
      }
      const before = plot.redraws;
      document.documentElement.setAttribute('data-theme', 'light');
      await waitFor(() => {
        expect(plot.redraws).toBe(before + 1);
      });

      vi.spyOn(HTMLElement.prototype, 'clientWidth', 'get').mockImplementation(() => 320);
      act(() => {
        for (const cb of resized) {
          cb();
        }
      });
      expect(plot.sizes.at(-1)).toEqual({ width: 320, height: 36 });
    });
  });
});
