import { call } from './core';
import type { Exchange } from './keys';

export type Part = 'secret' | 'passphrase' | 'key_id';

/** Mirrors `keyward_core::scan::Finding`: never holds the matched text. */
export interface ScanFinding {
  kind: 'vault_key' | 'unknown_credential';
  path: string;
  line: number;
  repository?: string;
  commit?: string;
  ref?: string;
  label?: string;
  part: Part;
  exchange?: Exchange;
  /** The exchange's brand ("OKX"), when `exchange` is set. */
  exchange_name?: string;
  rule?: string;
  name?: string;
  /** Where, the same way for files and history: the path relative to the
   * scanned folder, `:line`, and ` in commit <short> (<ref>)` for history. */
  location: string;
}

export interface ScanReport {
  findings: ScanFinding[];
  scanned: number;
  bytes: number;
  skipped_binary: number;
  skipped_large: number;
  unreadable: string[];
  /** The git repositories whose history was scanned (empty without history). */
  repositories: string[];
}

export interface ScanProgress {
  scanned: number;
  bytes: number;
  findings: number;
}

export interface ScanRequest {
  paths: string[];
  history: boolean;
  honour_ignore: boolean;
}

export interface CandidatePreview {
  file: string;
  format: string;
  location: string;
  exchange: Exchange;
  exchange_name: string;
  label: string;
  key_id_masked: string;
  has_passphrase: boolean;
  fields: { name: string; part: Part }[];
}

export interface ImportResult {
  outcomes: { label: string; added: boolean; error?: string }[];
  rewrite: { file: string; backup: string; removed: number } | null;
  run_line: string;
}

export const scanRun = (request: ScanRequest) => call<ScanReport>('scan_run', { request });
export const scanCancel = () => call<void>('scan_cancel');
/** Opens the folder of finding `index` of the last scan (Rust resolves the path). */
export const scanOpenFolder = (index: number) => call<void>('scan_open_folder', { index });
export const importPreview = (path: string) => call<CandidatePreview[]>('import_preview', { path });
export const importApply = (
  path: string,
  choices: { index: number; label: string }[],
  rewrite: boolean,
) => call<ImportResult>('import_apply', { path, choices, rewrite });
