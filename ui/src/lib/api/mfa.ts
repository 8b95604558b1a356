import { call } from './core';

/**
 * Proof for a gated action. The core decides which kinds it accepts: a TOTP
 * or recovery code once MFA is enrolled, the master password before that.
 */
export type Proof =
  | { kind: 'totp'; code: string }
  | { kind: 'recovery_code'; code: string }
  | { kind: 'password'; password: string };

/** Mirrors the desktop's `MfaStatus`. */
export interface MfaStatus {
  enrolled: boolean;
  pending: boolean;
  recovery_codes_left: number;
  throttled_until: number | null;
}

/** Shown once, at enrolment. */
export interface Enrolment {
  secret: string;
  otpauth_uri: string;
  qr_svg: string;
  recovery_codes: string[];
}

export const mfaStatus = () => call<MfaStatus>('mfa_status');
export const mfaEnroll = (proof: Proof | null) => call<Enrolment>('mfa_enroll', { proof });
export const mfaConfirm = (code: string) => call<void>('mfa_confirm', { code });
export const mfaDisable = (proof: Proof | null) => call<void>('mfa_disable', { proof });

/** Copies the just-shown recovery codes (cleared like a copied secret). */
export const recoveryCodesCopy = (codes: string[]) => call<void>('recovery_codes_copy', { codes });
/** Saves them to a file the user names (0600; never over an existing file). */
export const recoveryCodesSave = (codes: string[], path: string) =>
  call<string>('recovery_codes_save', { codes, path });
