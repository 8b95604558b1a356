import { afterEach, describe, expect, it } from 'vitest';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { alertsSetOptions, alertsSetWebhook } from './alerts';

afterEach(() => clearMocks());

describe('alerts wrappers', () => {
  it('send the argument names the Rust commands take', async () => {
    const calls: [string, unknown][] = [];
    mockIPC((cmd, args) => {
      calls.push([cmd, args]);
      return null;
    });
    await alertsSetWebhook('https://hooks.slack.com/services/T/B/X', 'slack', null);
    await alertsSetOptions(
      'weekly',
      { incident_opened: true, critical_finding: false, rotation_overdue: true },
      { kind: 'totp', code: '123456' },
    );
    expect(calls[0]).toEqual([
      'alerts_set_webhook',
      { webhook: { url: 'https://hooks.slack.com/services/T/B/X', kind: 'slack' }, proof: null },
    ]);
    expect(calls[1]).toEqual([
      'alerts_set_options',
      {
        backgroundAudit: 'weekly',
        events: { incident_opened: true, critical_finding: false, rotation_overdue: true },
        proof: { kind: 'totp', code: '123456' },
      },
    ]);
  });
});
