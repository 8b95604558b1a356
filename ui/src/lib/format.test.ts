import { describe, expect, it } from 'vitest';
import {
  age,
  count,
  deliveryState,
  grouped,
  healthLevel,
  lines,
  rotationDue,
  runEnvNames,
  shellQuote,
} from './format';

const NOW = 1_700_000_000;
const DAY = 86_400;

describe('age', () => {
  it('counts whole days', () => {
    expect(age(NOW - 10, NOW)).toBe('today');
    expect(age(NOW - DAY, NOW)).toBe('1 day');
    expect(age(NOW - 30 * DAY - 5, NOW)).toBe('30 days');
  });
});

describe('rotationDue', () => {
  it('flags overdue, soon and fine', () => {
    expect(rotationDue(NOW - 3 * DAY, NOW)).toEqual({ text: 'overdue 3 d', level: 'overdue' });
    expect(rotationDue(NOW + 5 * DAY + 10, NOW).level).toBe('soon');
    expect(rotationDue(NOW + 40 * DAY + 10, NOW)).toEqual({ text: 'in 40 d', level: 'ok' });
  });
});

describe('lines', () => {
  it('drops blanks and trims', () => {
    expect(lines(' 203.0.113.7 \n\n10.0.0.0/8\n')).toEqual(['203.0.113.7', '10.0.0.0/8']);
    expect(lines('grid bot, dca bot')).toEqual(['grid bot', 'dca bot']);
  });
});

describe('runEnvNames', () => {
  it('follows the core default names', () => {
    expect(runEnvNames('binance', false)).toEqual(['BINANCE_API_KEY', 'BINANCE_API_SECRET']);
    expect(runEnvNames('okx', true)).toEqual(['OKX_API_KEY', 'OKX_API_SECRET', 'OKX_API_PASSPHRASE']);
    expect(runEnvNames('other', false)).toEqual(['API_KEY', 'API_SECRET']);
  });
});

describe('shellQuote', () => {
  it('quotes only when needed', () => {
    expect(shellQuote('binance-main')).toBe('binance-main');
    expect(shellQuote("grid bot's key")).toBe(`'grid bot'\\''s key'`);
  });
});

describe('count', () => {
  it('agrees in number and groups digits', () => {
    expect(count(1, 'warning')).toBe('1 warning');
    expect(count(0, 'warning')).toBe('0 warnings');
    expect(count(21429, 'key')).toBe('21,429 keys');
    expect(count(2, 'critical', 'critical')).toBe('2 critical');
    expect(count(3, 'file or blob', 'files and blobs')).toBe('3 files and blobs');
    expect(grouped(21429)).toBe('21,429');
    expect(grouped(999)).toBe('999');
    expect(grouped(1234567)).toBe('1,234,567');
  });
});

describe('healthLevel', () => {
  it('is red whenever a finding is critical', () => {
    // One key with two critical findings loses at most its cap of 40.
    expect(healthLevel(60, 2)).toBe('poor');
    expect(healthLevel(95, 1)).toBe('poor');
    expect(healthLevel(60, 0)).toBe('fair');
    expect(healthLevel(85, 0)).toBe('good');
    expect(healthLevel(40, 0)).toBe('poor');
  });
});

describe('deliveryState', () => {
  it('tells a server still on the old key from one on the current key', () => {
    expect(deliveryState(null, false)).toBe('never');
    expect(deliveryState(null, true)).toBe('never');
    expect(deliveryState(100, false)).toBe('current');
    expect(deliveryState(400, true)).toBe('old_key');
  });
});
