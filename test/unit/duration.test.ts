import { humanDuration, shortDuration } from '../../src/core/duration';

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

describe('humanDuration', () => {
  it.each([
    [2 * H + 15 * M, '2 hours, 15 minutes'],
    [2 * H, '2 hours'],
    [D + 2 * H + 30 * M, '1 day, 2 hours, 30 minutes'],
    [45 * M, '45 minutes'],
    [M, '1 minute'],
    [H, '1 hour'],
    [H + M, '1 hour, 1 minute'],
    [D, '1 day'],
    [3 * D + 5 * M, '3 days, 5 minutes'],
    [2 * D + 3 * H, '2 days, 3 hours'],
    [40 * D, '40 days'],
  ])('%d ms -> %s', (ms, expected) => {
    expect(humanDuration(ms)).toBe(expected);
  });

  it('never shows zero units', () => {
    expect(humanDuration(2 * H)).not.toContain('0 minutes');
    expect(humanDuration(D + 5 * M)).not.toContain('0 hours');
  });

  it('truncates seconds to minutes', () => {
    expect(humanDuration(2 * H + 15 * M + 59 * S)).toBe('2 hours, 15 minutes');
    expect(humanDuration(M + 59 * S + 999)).toBe('1 minute');
    expect(humanDuration(2 * H + 30 * S)).toBe('2 hours');
  });

  it('under a minute is "less than a minute"', () => {
    expect(humanDuration(0)).toBe('less than a minute');
    expect(humanDuration(59 * S)).toBe('less than a minute');
    expect(humanDuration(M - 1)).toBe('less than a minute');
  });

  it('treats negative and non-finite durations as 0', () => {
    expect(humanDuration(-5 * H)).toBe('less than a minute');
    expect(humanDuration(Number.NaN)).toBe('less than a minute');
  });
});

describe('shortDuration', () => {
  it.each([
    [2 * H + 15 * M, '2h 15m'],
    [D + 2 * H + 30 * M, '1d 2h 30m'],
    [45 * M, '45m'],
    [2 * H, '2h'],
    [D + 5 * M, '1d 5m'],
    [M, '1m'],
    [59 * S, '<1m'],
    [0, '<1m'],
    [-H, '<1m'],
    [2 * H + 15 * M + 59 * S, '2h 15m'],
  ])('%d ms -> %s', (ms, expected) => {
    expect(shortDuration(ms)).toBe(expected);
  });
});
