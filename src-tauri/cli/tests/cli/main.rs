//! End-to-end tests of the `keyward` binary against real vault files.
//!
//! Modules:
//! - `alerts`: webhook set from the environment with a TOTP code, an
//!   incident's message at a local receiver, the URL never printed or stored
//!   in plaintext, a receiver that is down never fails the command.
//! - `commands`: every command, its output and its exit code (DESIGN §6).
//! - `canary`: planted secrets never reach any file, stdout or stderr.
//! - `tamper`: damaged or foreign files give clear errors and exit codes.
//! - `crash`: SIGKILL during adds never loses an acknowledged key.
//! - `deploy`: `keyward target`/`deploy` against a real sshd on loopback,
//!   `keyward run --bundle` on the "server" side; re-deploy replaces the
//!   bundle atomically; tampered bundle, wrong identity, changed host key
//!   and unreachable host refused with clear errors, nothing changed;
//!   canary nowhere.
//! - `deploy_rotation`: `rotate promote` delivers the new key to the
//!   servers that held the old one (same code); an unreachable server is
//!   named, revoke-old waits until `deploy --all` reaches it.
//! - `files`: 0700/0600 under `umask 000`; reports and exports never through
//!   a link or over a file without `--force`; `log --verify` exit 5 until a
//!   finding is acknowledged; bidi labels refused; terminal escapes and
//!   Markdown links from an exchange inert; oversized secret input refused.
//! - `health`: findings, score and fixes on a real vault; no secret printed.
//! - `incident`: a leaked Bybit key and an OKX manual revocation through the
//!   incident commands against the simulator; reports without secrets.
//! - `keyring`: OS-keyring unlock against a real Secret Service, and the
//!   fallback when none is reachable.
//! - `managed`: `keyward manager mark|unmark|list` and `keyward inventory`
//!   against the simulator: a sub-account key refused, the master key
//!   marked with a code, a planted key flagged and deleted, a vault key
//!   refused, `keyward run` refusing a manager key.
//! - `mfa`: enrolment, distinct exit-4 messages for missing, wrong, replayed
//!   and throttled codes, recovery codes, `log --verify` exit 5, canary.
//! - `narrow`: `keyward narrow` lists what a Bybit key can drop, drops one
//!   named permission (only it changes at the simulator), refuses a name the
//!   key cannot drop with the list, and needs a code once MFA is enrolled.
//! - `rotate`: staged rotation and revocation against the simulator (API
//!   and manual revocation, verify refusals, MFA, SIGKILL in every step,
//!   revoke faults, revoke by exchange), canary.
//! - `scan`: `--history` over a folder covers every repository in it, nested
//!   ones too, and a folder without one is refused before anything is read.
//! - `service`: linked services and the vendor checklist through `keyward
//!   service`, `show` and `--used-by`; specific errors and exit codes.
//! - `verify`: live checks against the exchange simulator, exit 6, the
//!   stored last check.

mod support;

mod alerts;
mod auto_rotate;
mod canary;
mod commands;
mod crash;
mod deploy;
mod deploy_rotation;
mod files;
mod health;
mod incident;
mod keyring;
mod managed;
mod mfa;
mod narrow;
mod rotate;
mod scan;
mod service;
mod tamper;
mod verify;
