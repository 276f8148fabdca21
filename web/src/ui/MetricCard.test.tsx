import { cleanup, render, screen } from '@testing-library/react';
import { MemoryRouter } from 'react-router';
import { afterEach, describe, expect, it } from 'vitest';
import { MetricCard, trendText } from './MetricCard';

afterEach(cleanup);

function renderCard(ui: React.ReactNode) {
  return render(<MemoryRouter>{ui}</MemoryRouter>);
}

describe('trendText', () => {
  it('says which way and by how much', () => {
    expect(trendText({ delta: 3 })).toBe('up 3 from an hour ago');
    expect(trendText({ delta: -2, since: 'yesterday' })).toBe('down 2 from yesterday');
    expect(trendText({ delta: 0 })).toBe('no change from an hour ago');
    expect(trendText({ delta: 1500 })).toBe(`up ${(1500).toLocaleString()} from an hour ago`);
  });
});

describe('MetricCard', () => {
  it('shows the label, the formatted value and the unit', () => {
    const { container } = renderCard(<MetricCard label="Throughput" value={12345} unit="req/min" />);
    expect(screen.getByText('Throughput')).toBeTruthy();
    expect(screen.getByText((12345).toLocaleString())).toBeTruthy();
    expect(screen.getByText('req/min')).toBeTruthy();
    // Not a link without `to`.
    expect(screen.queryByRole('link')).toBeNull();
    expect(container.querySelector('.metric-card')?.getAttribute('data-tone')).toBe('neutral');
  });

  it('uses a custom format and shows a dash for no value', () => {
    const { rerender } = renderCard(<MetricCard label="Ratio" value={0.25} format={(n) => `${n * 100}%`} />);
    expect(screen.getByText('25%')).toBeTruthy();
    rerender(
      <MemoryRouter>
        <MetricCard label="Ratio" value={undefined} />
      </MemoryRouter>,
    );
    expect(screen.getByText('—')).toBeTruthy();
  });

  it('has a trend arrow with a text alternative, coloured by whether up is good', () => {
    const { container, rerender } = renderCard(<MetricCard label="In error" value={5} trend={{ delta: 3, upIs: 'bad' }} />);
    expect(screen.getByText('up 3 from an hour ago')).toBeTruthy();
    const trend = container.querySelector('[data-direction]');
    expect(trend?.getAttribute('data-direction')).toBe('up');
    expect(trend?.getAttribute('data-sentiment')).toBe('bad');
    expect(trend?.querySelector('[aria-hidden="true"]')?.textContent).toBe('↑ 3');

    rerender(
      <MemoryRouter>
        <MetricCard label="Running" value={2} trend={{ delta: -1, upIs: 'good' }} />
      </MemoryRouter>,
    );
    expect(screen.getByText('down 1 from an hour ago')).toBeTruthy();
    expect(container.querySelector('[data-direction]')?.getAttribute('data-sentiment')).toBe('bad');

    rerender(
      <MemoryRouter>
        <MetricCard label="Running" value={2} trend={{ delta: 0, upIs: 'good' }} />
      </MemoryRouter>,
    );
    expect(screen.getByText('no change from an hour ago')).toBeTruthy();
    expect(container.querySelector('[data-direction]')?.getAttribute('data-direction')).toBe('flat');
    expect(container.querySelector('[data-direction] [aria-hidden="true"]')?.textContent.trim()).toBe('→');
  });

  it('takes its tone and, with `to`, is one link to the filtered page', () => {
    renderCard(<MetricCard label="In error" value={2} tone="error" to="/agents?state=AGENT_STATE_ERRORED" />);
    const link = screen.getByRole('link', { name: /In error/ });
    expect(link.getAttribute('href')).toBe('/agents?state=AGENT_STATE_ERRORED');
    expect(link.getAttribute('data-tone')).toBe('error');
    expect(link.textContent).toContain('2');
  });

  it('shows a sparkline summarised for screen readers', () => {
    renderCard(<MetricCard label="Running" value={7} sparkline={{ values: [3, 4, 7] }} />);
    expect(screen.getByRole('img', { name: 'Running, last 60 minutes: from 3 to 7, between 3 and 7' })).toBeTruthy();
  });

  it('is a busy skeleton while loading, without a value or trend', () => {
    const { container } = renderCard(
      <MetricCard label="Agents" value={4} loading trend={{ delta: 1 }} sparkline={{ values: [1, 2] }} />,
    );
    const card = container.querySelector('.metric-card');
    expect(card?.getAttribute('aria-busy')).toBe('true');
    expect(screen.getByText('Loading Agents')).toBeTruthy();
    expect(screen.queryByText('4')).toBeNull();
    expect(screen.queryByText(/from an hour ago/)).toBeNull();
    expect(screen.queryByRole('img')).toBeNull();
  });

  it('shows a note under the value', () => {
    renderCard(<MetricCard label="Agents" value={500} note="first 500 of 812" />);
    expect(screen.getByText('first 500 of 812')).toBeTruthy();
  });
});
