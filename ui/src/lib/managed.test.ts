import { describe, expect, it } from 'vitest';
import {
  accountsOf,
  autoRotateBlocked,
  countsSummary,
  environmentLabel,
  refusalReasons,
  sortEntries,
  stageTitle,
  statusLabel,
} from './managed';
import type { KeySummary } from './api/keys';
import type { AutoSchedule } from './api/rotation';

describe('statusLabel', () => {
  it('makes an unknown key the red flag', () => {
    expect(statusLabel('unknown')).toMatchObject({ text: 'Unknown', tone: 'bad' });
    expect(statusLabel('missing').tone).toBe('warn');
    expect(statusLabel('not_listed')).toMatchObject({ text: 'Not listed', tone: 'info' });
    expect(statusLabel('known').tone).toBe('ok');
  });
});

describe('sortEntries', () => {
  it('puts red flags first and keeps the order within a status', () => {
    const rows = [
      { status: 'known', id: 1 },
      { status: 'unknown', id: 2 },
      { status: 'not_listed', id: 3 },
      { status: 'unknown', id: 4 },
      { status: 'missing', id: 5 },
    ] as const;
    expect(sortEntries(rows).map((r) => r.id)).toEqual([2, 4, 5, 3, 1]);
  });
});

describe('countsSummary', () => {
  it('names unknown keys first and omits empty extras', () => {
    expect(countsSummary({ known: 2, unknown: 1, missing: 0, not_listed: 0 })).toBe('1 unknown key, 2 known');
    expect(countsSummary({ known: 0, unknown: 0, missing: 1, not_listed: 3 })).toBe(
      '0 unknown keys, 0 known, 1 missing, 3 not listed',
    );
  });
});

function key(label: string, exchange: KeySummary['exchange'], base: string | null, manager = false): KeySummary {
  return {
    id: label,
    label,
    exchange,
    exchange_name: exchange.toUpperCase(),
    environment: base ? { kind: 'custom', base_url: base } : { kind: 'mainnet' },
    api_key_id_masked: 'ABCD…WXYZ',
    key_type: 'hmac',
    scopes: ['read'],
    ip_restricted: false,
    status: 'active',
    created_at: 0,
    last_rotated_at: null,
    rotate_every_days: 90,
    rotation_due_at: 0,
    last_audit_at: null,
    last_audit_result: null,
    manager,
  };
}

describe('accountsOf', () => {
  it('groups keys by exchange and environment, with the manager key, manageable exchanges only', () => {
    const accounts = accountsOf(
      [
        key('a', 'bybit', null),
        key('kr', 'kraken', null),
        key('m', 'bybit', null, true),
        key('t', 'okx', 'http://127.0.0.1:9/okx'),
        key('b', 'binance', null),
      ],
      ['bybit', 'okx', 'binance'],
    );
    expect(accounts.map((a) => [a.exchange, environmentLabel(a.environment), a.manager, a.keys])).toEqual([
      ['bybit', 'mainnet', 'm', 2],
      ['okx', 'http://127.0.0.1:9/okx', null, 1],
      ['binance', 'mainnet', null, 1],
    ]);
  });
});

describe('autoRotateBlocked', () => {
  const schedule = (manager: string | null): AutoSchedule => ({
    label: 'k',
    auto_rotate: false,
    rotate_every_days: null,
    due_at: 0,
    manager,
    sub_account: null,
  });
  const k = { manager: false, status: 'active', exchange_name: 'Bybit' };
  it('says why, or null when the key can be rotated', () => {
    expect(autoRotateBlocked(k, true, schedule('master'))).toBeNull();
    expect(autoRotateBlocked(k, false, schedule('master'))).toContain('cannot manage Bybit keys');
    expect(autoRotateBlocked({ ...k, manager: true }, true, schedule('k'))).toContain('manager key');
    expect(autoRotateBlocked({ ...k, status: 'revoked' }, true, schedule('master'))).toContain('revoked');
    expect(autoRotateBlocked(k, true, schedule(null))).toContain('No Bybit manager key');
  });
});

describe('refusalReasons', () => {
  it('splits the core refusal into problems and needs', () => {
    expect(
      refusalReasons(
        '"sub" cannot be the manager key: A sub-account key (10005); it is read-only; a manager key needs A master key (uid "0")., Read-write with "A", "B" or "C": one of them.',
      ),
    ).toEqual({
      problems: ['A sub-account key (10005)', 'It is read-only'],
      needs: ['A master key (uid "0").', 'Read-write with "A", "B" or "C": one of them.'],
    });
    expect(refusalReasons('the exchange could not be reached')).toBeNull();
  });
});

describe('stageTitle', () => {
  it('titles the stages', () => {
    expect(stageTitle({ state: 'old_key_revoked', message: '' })).toContain('proven dead');
    expect(stageTitle({ state: 'new_key_entered', message: '' })).toBe('New key created');
  });
});
