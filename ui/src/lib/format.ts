// Small, pure presentation helpers (unit-tested in format.test.ts).

const DAY = 86_400;

/** "today", "1 day", "12 days" since `unixSeconds`. */
export function age(unixSeconds: number, now: number = Date.now() / 1000): string {
  const days = Math.floor(Math.max(0, now - unixSeconds) / DAY);
  if (days === 0) return 'today';
  return days === 1 ? '1 day' : `${days} days`;
}

export type Due = { text: string; level: 'ok' | 'soon' | 'overdue' };

/** Rotation due state: overdue, due within 7 days, or fine. */
export function rotationDue(dueAt: number, now: number = Date.now() / 1000): Due {
  const days = Math.floor((dueAt - now) / DAY);
  if (dueAt <= now) {
    const late = Math.floor((now - dueAt) / DAY);
    return { text: late === 0 ? 'due today' : `overdue ${late} d`, level: 'overdue' };
  }
  if (days <= 7) return { text: `due in ${days} d`, level: 'soon' };
  return { text: `in ${days} d`, level: 'ok' };
}

/** Entries separated by newlines or commas, trimmed, blanks dropped. */
export function lines(text: string): string[] {
  return text
    .split(/[\n,]/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
}

/**
 * The variable names `keyward run` sets for a key (mirrors
 * `keyward_core::vault::material::default_env_name`).
 */
export function runEnvNames(exchange: string, hasPassphrase: boolean): string[] {
  const prefix = exchange === 'other' ? '' : `${exchange.toUpperCase()}_`;
  const names = [`${prefix}API_KEY`, `${prefix}API_SECRET`];
  if (hasPassphrase) names.push(`${prefix}API_PASSPHRASE`);
  return names;
}

/** Quotes a word for a POSIX shell when it needs it. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:@%+=-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** 21429 → "21,429" (mirrors `keyward_core::text::grouped`). */
export function grouped(n: number): string {
  return n.toLocaleString('en-US');
}

/** "1 warning", "2 warnings", "21,429 keys": a count with its noun, grouped digits
 * (mirrors `keyward_core::text::count`). */
export function count(n: number, singular: string, plural = `${singular}s`): string {
  return `${grouped(n)} ${n === 1 ? singular : plural}`;
}

/**
 * The health score's colour. Any critical finding is red, whatever the
 * number: the per-key cap keeps one bad key from sinking the score, which
 * must not make a key with two critical findings look merely amber.
 */
export function healthLevel(score: number, critical: number): 'good' | 'fair' | 'poor' {
  if (critical > 0 || score < 50) return 'poor';
  return score >= 80 ? 'good' : 'fair';
}

export type DeliveryState = 'never' | 'current' | 'old_key';

/**
 * Whether a target holds this key: never delivered, delivered since the
 * key's last rotation, or delivered before it (the server still runs the
 * old key, and revoking the old key would stop its bot). The core decides
 * "before" by the order of its audit log, not by the clock.
 */
export function deliveryState(deployedAt: number | null, holdsOldKey: boolean): DeliveryState {
  if (deployedAt === null) return 'never';
  return holdsOldKey ? 'old_key' : 'current';
}
