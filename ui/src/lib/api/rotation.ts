import { call } from './core';
import type { Proof } from './mfa';
import type { Exchange, Scope } from './keys';
import type { TargetDelivery } from './deploy';

export type RotationState =
  | 'planned'
  | 'new_key_entered'
  | 'new_key_verified'
  | 'promoted'
  | 'old_key_revoked'
  | 'done'
  | 'failed'
  | 'cancelled';

export type NextAction = 'enter_new_key' | 'verify' | 'promote' | 'revoke_old' | 'finish';

export interface Difference {
  code: string;
  severity: string;
  scope: string | null;
  declared: string;
  live: string;
  fix: string;
}

/** Mirrors `keyward_core::rotation::VerifyOutcome`. */
export interface VerifyOutcome {
  passed: boolean;
  authenticated: boolean;
  unreachable: boolean;
  declared: string[];
  granted: string[];
  unknown: string[];
  intended_ips: string[];
  live_ips: string[] | null;
  differences: Difference[];
  unknown_override: boolean;
  checked_at: number;
}

/** Mirrors `keyward_core::rotation::RotationView` (no secret in it). */
export interface RotationView {
  id: string;
  label: string;
  exchange: Exchange;
  state: RotationState;
  open: boolean;
  steps: { state: RotationState; at: number | null; status: string }[];
  next_action: NextAction | null;
  can_cancel: boolean;
  /** Cancelling deletes a key Keyward created on the exchange (an automated rotation): it needs the step-up. */
  cancel_deletes_key: boolean;
  new_api_key_id_masked: string | null;
  old_api_key_id_masked: string | null;
  declared_scopes: Scope[];
  verification: VerifyOutcome | null;
  unknown_override: boolean;
  revoke_via_api: boolean;
  manual_steps: string[];
  services: { name: string; state: 'pending' | 'updated'; marked_at: number | null }[];
  error: string | null;
}

export type RevokeOutcome =
  | {
      status: 'revoked';
      label: string;
      method: 'api' | 'manual';
      confirmation: string;
      /** A key an automated rotation had created, still live and held by nobody: how to delete it. */
      left_live?: string;
    }
  | { status: 'manual_steps_required'; label: string; reason: string; steps: string[] }
  | { status: 'still_active'; label: string; message: string }
  /** Rejected, but by an answer that does not prove the key is gone. */
  | { status: 'inconclusive'; label: string; message: string; check_by_hand: string[] }
  | { status: 'failed'; label: string; kind: string; message: string };

/** The key's open rotation, or null when it has none. */
export const rotationStatus = (label: string) => call<RotationView | null>('rotation_status', { label });
export const rotationBegin = (label: string) => call<RotationView>('rotation_begin', { label });
export const rotationNewKey = (
  label: string,
  key: { api_key_id: string; secret: string; passphrase: string | null; key_type: string | null },
) => call<RotationView>('rotation_new_key', { label, key });
export const rotationVerify = (label: string, scopes: Scope[] | null, allowUnknown: boolean) =>
  call<VerifyOutcome>('rotation_verify_new', { label, scopes, allowUnknown });
/** A promotion: the rotation, and each deployment target that held the key, delivered the new one or not. */
export interface PromoteOutcome {
  rotation: RotationView;
  deployments: TargetDelivery[];
}
export const rotationPromote = (label: string, proof: Proof | null) =>
  call<PromoteOutcome>('rotation_promote', { label, proof });
export const rotationMarkService = (label: string, service: string, updated: boolean) =>
  call<RotationView>('rotation_mark_service', { label, service, updated });
/** `force`: revoke although a deployment target still holds the old key (audited). */
export const rotationRevokeOld = (
  label: string,
  proof: Proof | null,
  confirmManual: boolean,
  force = false,
) => call<RevokeOutcome>('rotation_revoke_old_key', { label, proof, confirmManual, force });
export const rotationFinish = (label: string) => call<RotationView>('rotation_finish', { label });
/** What cancelling a rotation did: for an automated one, the created key it deleted and proved dead first. */
export interface AutoCancel {
  label: string;
  rotation: RotationView;
  deleted: { key: string; confirmation: string } | null;
  leftovers_deleted: number;
  check_by_hand: string | null;
}
/** `proof`: needed when `cancel_deletes_key` (the step-up for automated rotation). */
export const rotationCancel = (label: string, proof: Proof | null) =>
  call<AutoCancel>('rotation_cancel', { label, proof });
/** One stage an automated rotation went through. */
export interface AutoStage {
  state: RotationState;
  message: string;
}
/** What an automated rotation through the manager key ended with. */
export interface AutoOutcome {
  label: string;
  stages: AutoStage[];
  rotation: RotationView;
  finished: boolean;
  verification: VerifyOutcome | null;
  revocation: RevokeOutcome | null;
  /** The new key's deliveries to the key's deployment targets this run made. */
  deployments: TargetDelivery[];
}
/** A key's automated rotation schedule. */
export interface AutoSchedule {
  label: string;
  auto_rotate: boolean;
  rotate_every_days: number | null;
  due_at: number;
  manager: string | null;
  sub_account: string | null;
}
export const rotateAuto = (label: string, proof: Proof | null) =>
  call<AutoOutcome>('rotate_auto', { label, proof });
/** `auto`: true turns automatic rotation on (needs a proof), false off, null only reads. */
export const rotateSchedule = (
  label: string,
  auto: boolean | null,
  everyDays: number | null,
  proof: Proof | null,
) => call<AutoSchedule>('rotate_schedule', { label, auto, everyDays, proof });
export const keyRevoke = (label: string, proof: Proof | null, confirmManual: boolean) =>
  call<RevokeOutcome>('key_revoke', { label, proof, confirmManual });
export const exchangeRevokeAll = (exchange: Exchange, proof: Proof | null, confirmManual: boolean) =>
  call<RevokeOutcome[]>('exchange_revoke_all', { exchange, proof, confirmManual });
