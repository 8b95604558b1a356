import { call } from './core';

/** What the first screen needs (mirrors the desktop's `VaultState`). */
export interface VaultState {
  path: string;
  exists: boolean;
  unlocked: boolean;
  device_unlock: boolean;
}

/** Mirrors `keyward_core::password::Assessment`. */
export interface PasswordAssessment {
  score: number;
  acceptable: boolean;
  warning: string | null;
  suggestions: string[];
}

/** Mirrors `keyward_core::vault::Settings`. */
export interface Settings {
  auto_lock_minutes: number;
  clipboard_clear_seconds: number;
  default_rotation_days: number;
  step_up_window_seconds: number;
}

export interface KeyringState {
  available: boolean;
  reason: string | null;
  enabled: boolean;
}

export const vaultStatus = () => call<VaultState>('vault_status');
export const passwordAssess = (password: string) =>
  call<PasswordAssessment>('password_assess', { password });
export const vaultCreate = (password: string) => call<void>('vault_create', { password });
export const vaultUnlock = (password: string) => call<void>('vault_unlock', { password });
export const vaultUnlockDevice = () => call<void>('vault_unlock_device');
export const vaultLock = () => call<void>('vault_lock');
export const settingsGet = () => call<Settings>('settings_get');
export const settingsUpdate = (settings: Settings) =>
  call<Settings>('settings_update', { settings });
export const keyringStatus = () => call<KeyringState>('keyring_status');
export const keyringEnable = () => call<void>('keyring_enable');
export const keyringDisable = () => call<void>('keyring_disable');
