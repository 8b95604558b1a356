// Pure functions for the managed-key screens: how an inventory status, an
// environment and an account read, and which accounts the vault has.
// No IPC here; the core decides, these only say it.
import type { InventoryReport, InventoryStatus } from './api/managed';
import type { Environment, Exchange, KeySummary } from './api/keys';
import type { AutoSchedule, AutoStage, RotationState } from './api/rotation';
import { count } from './format';

export interface StatusLabel {
  /** One word or two, shown in the table. */
  text: string;
  /** `bad`: a red flag; `warn`: look at it; `ok`: as expected; `info`: not judged. */
  tone: 'bad' | 'warn' | 'ok' | 'info';
  /** One sentence for a first-time trader. */
  explain: string;
}

export const STATUS_LABELS: Readonly<Record<InventoryStatus, StatusLabel>> = {
  unknown: {
    text: 'Unknown',
    tone: 'bad',
    explain: 'On the exchange account but not in your vault: if you did not make it, someone else did. Revoke it.',
  },
  missing: {
    text: 'Missing',
    tone: 'warn',
    explain: 'In your vault but gone from the exchange: it was deleted there, so it no longer works.',
  },
  not_listed: {
    text: 'Not listed',
    tone: 'info',
    explain: 'In your vault; the exchange could not list it, so it is neither confirmed nor missing.',
  },
  known: {
    text: 'Known',
    tone: 'ok',
    explain: 'On the exchange account and in your vault.',
  },
};

/** How a status reads, for the table and its legend. */
export function statusLabel(status: InventoryStatus): StatusLabel {
  return STATUS_LABELS[status];
}

/** Table order: red flags first, then missing, not listed, known. */
const ORDER: readonly InventoryStatus[] = ['unknown', 'missing', 'not_listed', 'known'];

/** The entries sorted red flags first (stable within a status). */
export function sortEntries<T extends { status: InventoryStatus }>(entries: readonly T[]): T[] {
  return entries
    .map((e, i) => ({ e, i }))
    .sort((a, b) => ORDER.indexOf(a.e.status) - ORDER.indexOf(b.e.status) || a.i - b.i)
    .map(({ e }) => e);
}

/** "2 unknown keys, 3 known, 1 missing": the counts a person reads, red flags first. */
export function countsSummary(counts: InventoryReport['counts']): string {
  const parts = [count(counts.unknown, 'unknown key')];
  parts.push(`${counts.known} known`);
  if (counts.missing) parts.push(`${counts.missing} missing`);
  if (counts.not_listed) parts.push(`${counts.not_listed} not listed`);
  return parts.join(', ');
}

/** "mainnet", "testnet" or the custom base URL. */
export function environmentLabel(env: Environment): string {
  return env.kind === 'custom' ? env.base_url : env.kind;
}

/** A stable key for an environment (for equality and `{#each}` keys). */
export function environmentKey(env: Environment): string {
  return env.kind === 'custom' ? `custom:${env.base_url}` : env.kind;
}

/** One exchange account as the vault knows it: an exchange and environment
 * some key of the vault talks to, and its manager key if one is marked. */
export interface Account {
  id: string;
  exchange: Exchange;
  exchange_name: string;
  environment: Environment;
  /** The manager key's label, or null when none is marked. */
  manager: string | null;
  /** How many vault keys talk to this account. */
  keys: number;
}

/** The accounts of the vault's keys on the exchanges in `manageable`
 * (in the order of `manageable`, then by environment). */
export function accountsOf(keys: readonly KeySummary[], manageable: readonly Exchange[]): Account[] {
  const byId = new Map<string, Account>();
  for (const k of keys) {
    if (!manageable.includes(k.exchange)) continue;
    const id = `${k.exchange}|${environmentKey(k.environment)}`;
    let a = byId.get(id);
    if (!a) {
      a = { id, exchange: k.exchange, exchange_name: k.exchange_name, environment: k.environment, manager: null, keys: 0 };
      byId.set(id, a);
    }
    a.keys += 1;
    if (k.manager) a.manager = k.label;
  }
  return [...byId.values()].sort(
    (a, b) =>
      manageable.indexOf(a.exchange) - manageable.indexOf(b.exchange) ||
      environmentKey(a.environment).localeCompare(environmentKey(b.environment)),
  );
}

/** Why "Rotate automatically" cannot run for a key, or null when it can
 * (the core checks again and has the last word). */
export function autoRotateBlocked(
  key: { manager: boolean; status: string; exchange_name: string },
  manageable: boolean,
  schedule: AutoSchedule | null,
): string | null {
  if (!manageable) return `Keyward cannot manage ${key.exchange_name} keys through its API: rotate it with the wizard below.`;
  if (key.manager) return 'This is the account\u2019s manager key: it cannot rotate itself. Rotate it with the wizard below.';
  if (key.status === 'revoked') return 'A revoked key cannot be rotated.';
  if (schedule && !schedule.manager)
    return `No ${key.exchange_name} manager key for this environment is in the vault. Mark the account\u2019s master key as manager key on its key page first.`;
  return null;
}

const STAGE_TITLES: Readonly<Record<RotationState, string>> = {
  planned: 'Planned',
  new_key_entered: 'New key created',
  new_key_verified: 'New key verified',
  promoted: 'New key in use',
  old_key_revoked: 'Old key deleted and proven dead',
  done: 'Done',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

/** The title of a stage an automated run went through. */
export function stageTitle(stage: AutoStage): string {
  return STAGE_TITLES[stage.state] ?? stage.state;
}

/** The core's refusal of a manager key ("… cannot be the manager key:
 * problem; problem; a manager key needs Need. Need."), as the problems and
 * what a manager key needs, one per line; null for any other error. */
export function refusalReasons(message: string): { problems: string[]; needs: string[] } | null {
  const marker = 'cannot be the manager key: ';
  const at = message.indexOf(marker);
  if (at < 0) return null;
  const needsMarker = 'a manager key needs ';
  const problems: string[] = [];
  let needs: string[] = [];
  for (const part of message.slice(at + marker.length).split('; ')) {
    const r = part.trim();
    if (!r) continue;
    if (r.startsWith(needsMarker)) needs = r.slice(needsMarker.length).split(/(?<=\.), (?=[A-Z])/);
    else problems.push(r.charAt(0).toUpperCase() + r.slice(1));
  }
  return { problems, needs };
}
