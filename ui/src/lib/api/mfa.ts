import { call } from './core';
import type { Enrolment } from './generated/Enrolment';
import type { MfaStatus } from './generated/MfaStatus';

/**
 * Proof for a gated action. The core decides which kinds it accepts: a TOTP
 * or recovery code once MFA is enrolled, the master password before that.
 */
export type Proof =
  | { kind: 'totp'; code: string }
  | { kind: 'recovery_code'; code: string }
  | { kind: 'password'; password: string };

// The shapes are generated from the Rust DTOs (`generated/`).
export type { Enrolment, MfaStatus };

export const mfaStatus = () => call<MfaStatus>('mfa_status');
export const mfaEnroll = (proof: Proof | null) => call<Enrolment>('mfa_enroll', { proof });
export const mfaConfirm = (code: string) => call<void>('mfa_confirm', { code });
export const mfaDisable = (proof: Proof | null) => call<void>('mfa_disable', { proof });

/** Copies the just-shown recovery codes (cleared like a copied secret). */
export const recoveryCodesCopy = (codes: string[]) => call<void>('recovery_codes_copy', { codes });
/** Saves them to a file the user names (0600; never over an existing file). */
export const recoveryCodesSave = (codes: string[], path: string) =>
  call<string>('recovery_codes_save', { codes, path });
