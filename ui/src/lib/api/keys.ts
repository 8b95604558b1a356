import { call } from './core';
import type { CheckStatus } from './generated/CheckStatus';
import type { Environment } from './generated/Environment';
import type { Exchange } from './generated/Exchange';
import type { KeyDetail as KeyDetailRecord } from './generated/KeyDetail';
import type { KeyStatus } from './generated/KeyStatus';
import type { KeySummary as KeySummaryRecord } from './generated/KeySummary';
import type { KeyType } from './generated/KeyType';
import type { Revealed } from './generated/Revealed';
import type { Scope } from './generated/Scope';
import type { Proof } from './mfa';

// The names are generated from the Rust types (`generated/`); the lists are
// for forms and must stay within them.
export type { Environment, Exchange, KeyStatus, KeyType, Scope };

export const EXCHANGES = [
  'binance',
  'coinbase',
  'kraken',
  'okx',
  'bybit',
  'kucoin',
  'bitget',
  'other',
] as const satisfies readonly Exchange[];

export const SCOPES = [
  'read',
  'trade',
  'withdraw',
  'transfer',
  'futures',
  'margin',
  'options',
] as const satisfies readonly Scope[];

export const KEY_TYPES = ['hmac', 'ed25519', 'rsa', 'ecdsa_jwt'] as const satisfies readonly KeyType[];

/** Exchanges that issue a passphrase with every key. */
export const NEEDS_PASSPHRASE: readonly Exchange[] = ['okx', 'kucoin', 'bitget'];

/**
 * Brand names for the exchange picker of the key form (the one place that
 * has no DTO; mirrors `keyward_core::vault::Exchange::display_name`).
 * Everything the core sends carries `exchange_name` instead.
 */
export const EXCHANGE_NAMES: Readonly<Record<Exchange, string>> = {
  binance: 'Binance',
  coinbase: 'Coinbase',
  kraken: 'Kraken',
  okx: 'OKX',
  bybit: 'Bybit',
  kucoin: 'KuCoin',
  bitget: 'Bitget',
  other: 'Other',
};

/** What the desktop adds beside every `exchange` it sends
 * (`commands/brand.rs`): the exchange's brand ("OKX"), for display. */
export interface Branded {
  exchange_name: string;
}

// Key records as the core sends them, generated from the Rust DTOs
// (`generated/`): metadata only, never a secret; plus the brand.
export type KeySummary = KeySummaryRecord & Branded;
export type KeyDetail = KeyDetailRecord & Branded;

export interface KeyInput {
  label: string;
  exchange: Exchange;
  environment: Environment;
  api_key_id: string;
  secret: string;
  passphrase: string | null;
  /** `auto`: recognised from the secret as the exchange hands it over (a
   * Coinbase CDP key file also fills an empty key id). */
  key_type: KeyType | 'auto';
  scopes: Scope[];
  ip_whitelist: string[];
  /** Names only (kind unspecified); details are set with `services.ts`. */
  linked_services: string[];
  notes: string;
  rotate_every_days: number | null;
}

export type KeyEditInput = Partial<Omit<KeyInput, 'exchange'>> & { status?: KeyStatus };

export const keyList = () => call<KeySummary[]>('key_list');
/** Ids of the keys matching `query` (the core's search: label, exchange, key id, services, notes). */
export const keySearch = (query: string) => call<string[]>('key_search', { query });
export const keyGet = (label: string) => call<KeyDetail>('key_get', { label });
export const keyAdd = (key: KeyInput) => call<KeySummary>('key_add', { key });
/**
 * Edits a key. Changing its environment/base URL, key id, secret, passphrase,
 * key type or status needs a step-up proof (the core refuses it without one).
 */
export const keyEdit = (label: string, edit: KeyEditInput, proof: Proof | null = null) =>
  call<KeyDetail>('key_edit', { label, edit, proof });

/** The fields of an edit that need a step-up (mirrors `KeyEdit::credential_fields`). */
export const CREDENTIAL_FIELDS = [
  'environment',
  'api_key_id',
  'secret',
  'passphrase',
  'key_type',
  'status',
] as const satisfies readonly (keyof KeyEditInput)[];

export const touchesCredentials = (edit: KeyEditInput): boolean =>
  CREDENTIAL_FIELDS.some((f) => edit[f] !== undefined);

/** The one path by which a secret reaches the webview: MFA-gated in the core. */
export type { Revealed };

export type SecretField = 'secret' | 'passphrase';

export const keyReveal = (label: string, proof: Proof | null) =>
  call<Revealed>('key_reveal', { label, proof });
/** Rust writes the clipboard and clears it later; the secret never enters the page. */
export const keyCopy = (label: string, field: SecretField, proof: Proof | null) =>
  call<void>('key_copy', { label, field, proof });
export const keyDelete = (label: string, proof: Proof | null) =>
  call<void>('key_delete', { label, proof });

export type { CheckStatus };

export const LIVE_SCOPES = ['read', 'trade', 'withdraw', 'transfer', 'margin', 'futures', 'options'] as const;
export type LiveScope = (typeof LIVE_SCOPES)[number];

export interface Finding {
  severity: 'info' | 'warning' | 'critical';
  code: string;
  message: string;
}

/** Mirrors `keyward_core::vault::KeyVerification` (no secret can be in it). */
export interface KeyVerification {
  id: string;
  label: string;
  exchange: Exchange;
  /** The exchange's brand ("OKX"), for display. */
  exchange_name: string;
  status: CheckStatus;
  authenticated: boolean;
  declared: Scope[];
  /** Live permissions; null where the exchange does not say. */
  permissions: Record<LiveScope, boolean | null>;
  ip_restricted: boolean | null;
  ip_whitelist: string[] | null;
  expires_at: string | null;
  checked_at: string;
  findings: Finding[];
  notes: string[];
  error: { message: string; exchange_code?: string; code?: string } | null;
  /** Whether the exchange lets a key be narrowed through its API. */
  narrow_via_api: boolean;
  /** Permissions the key holds that can be dropped through the API. */
  removable: RemovablePermission[];
}

/** Mirrors `keyward_core::exchange::RemovablePermission`. */
export interface RemovablePermission {
  /** The exchange's own name, passed back in `drop`. */
  name: string;
  /** For people: "Wallet · Account transfer". */
  label: string;
  scope: LiveScope | null;
  /** What else changes when it is dropped. */
  warning: string | null;
}

/** What to narrow; `drop` names come from `KeyVerification.removable`. */
export interface Narrowing {
  remove_withdraw: boolean;
  read_only: boolean;
  ips: string[] | null;
  drop: string[];
}

/** Live check against the exchange; `labels` null = every key. */
export const keyCheck = (labels: string[] | null) =>
  call<KeyVerification[]>('key_check', { labels });

/** Grants or withdraws `keyward run` for a key (granting is MFA-gated). */
export const keyAllowRun = (label: string, allow: boolean, proof: Proof | null) =>
  call<KeyDetail>('key_allow_run', { label, allow, proof });

/** Narrows a key at its exchange (where its API allows it), MFA-gated; returns the fresh check. */
export const keyNarrow = (
  label: string,
  narrowing: Narrowing,
  proof: Proof | null,
) => call<KeyVerification>('key_narrow', { label, narrowing, proof });
