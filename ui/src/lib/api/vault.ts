import { call } from './core';
import type { Assessment as PasswordAssessment } from './generated/Assessment';
import type { KeyringState } from './generated/KeyringState';
import type { Settings } from './generated/Settings';
import type { VaultState } from './generated/VaultState';
import type { Proof } from './mfa';

// The shapes are generated from the Rust DTOs (`generated/`).
export type { KeyringState, PasswordAssessment, Settings, VaultState };

export const vaultStatus = () => call<VaultState>('vault_status');
export const passwordAssess = (password: string) =>
  call<PasswordAssessment>('password_assess', { password });
export const vaultCreate = (password: string) => call<void>('vault_create', { password });
export const vaultUnlock = (password: string) => call<void>('vault_unlock', { password });
export const vaultUnlockDevice = () => call<void>('vault_unlock_device');
export const vaultLock = () => call<void>('vault_lock');
export const settingsGet = () => call<Settings>('settings_get');
export const settingsUpdate = (settings: Settings, proof: Proof | null) =>
  call<Settings>('settings_update', { settings, proof });
export const keyringStatus = () => call<KeyringState>('keyring_status');
export const keyringEnable = (proof: Proof | null) => call<void>('keyring_enable', { proof });
export const keyringDisable = (proof: Proof | null) => call<void>('keyring_disable', { proof });
