import { call } from './core';
import type { Proof } from './mfa';

/** What the first screen needs (mirrors the desktop's `VaultState`). */
export interface VaultState {
  path: string;
  exists: boolean;
  unlocked: boolean;
  device_unlock: boolean;
  /** Set when the audit log failed verification at unlock. */
  audit_problem: string | null;
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
export const settingsUpdate = (settings: Settings, proof: Proof | null) =>
  call<Settings>('settings_update', { settings, proof });
export const keyringStatus = () => call<KeyringState>('keyring_status');
export const keyringEnable = (proof: Proof | null) => call<void>('keyring_enable', { proof });
export const keyringDisable = (proof: Proof | null) => call<void>('keyring_disable', { proof });
