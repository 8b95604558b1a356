import { afterEach, describe, expect, it } from 'vitest';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { call } from './core';
import { AppError, toAppError } from './errors';
import { vaultStatus } from './vault';

afterEach(() => clearMocks());

describe('call', () => {
  it('returns the command result', async () => {
    mockIPC((cmd) => (cmd === 'vault_status' ? { path: '/v/vault.keyward', exists: false } : null));
    await expect(vaultStatus()).resolves.toEqual({ path: '/v/vault.keyward', exists: false });
  });

  it('maps backend errors to a typed AppError', async () => {
    mockIPC(() => {
      throw { kind: 'mfa', message: 'a fresh TOTP code is required' };
    });
    const err = await call('key_reveal', { label: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).kind).toBe('mfa');
    expect((err as AppError).message).toBe('a fresh TOTP code is required');
  });

  it('maps unknown shapes to internal', () => {
    expect(toAppError('command not allowed').kind).toBe('internal');
    expect(toAppError({ kind: 'nonsense', message: 'x' }).kind).toBe('internal');
    expect(toAppError(new Error('boom')).message).toBe('boom');
  });
});
