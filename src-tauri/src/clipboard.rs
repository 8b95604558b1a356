//! Copying a secret to the system clipboard, and taking it back.
//!
//! The Rust side, not the webview, writes the clipboard: the secret never
//! enters the page for a copy. The copy is marked to stay out of clipboard
//! managers' histories where the platform has a convention for it (Linux:
//! `x-kde-passwordManagerHint`), and it is cleared after the vault's timeout,
//! on lock and on quit — but only if the clipboard still holds what Keyward
//! put there, so something the user copied since is never wiped.
//!
//! Owns: the clipboard handle and the pending-clear bookkeeping. Must never:
//! keep the copied text (only its SHA-256 digest), log it, or expose a
//! clipboard read to the webview.
//!
//! Tauri's clipboard-manager plugin wraps the same `arboard` crate but cannot
//! mark a copy as secret, and its permissions would let the webview read the
//! clipboard; we use `arboard` directly instead.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};

/// What the clear logic needs from a clipboard (the real one, or a fake in
/// tests).
pub trait Board: Send {
    /// Puts `text` on the clipboard, marked as secret where possible.
    fn set_secret(&mut self, text: &str) -> Result<(), String>;
    /// The current text, if any.
    fn get(&mut self) -> Option<String>;
    /// Empties the clipboard.
    fn clear(&mut self);
}

/// The system clipboard through `arboard`.
pub struct SystemBoard(arboard::Clipboard);

impl SystemBoard {
    /// Connects to the system clipboard.
    pub fn new() -> Result<Self, String> {
        arboard::Clipboard::new()
            .map(SystemBoard)
            .map_err(|e| format!("the clipboard is unavailable: {e}"))
    }
}

impl Board for SystemBoard {
    fn set_secret(&mut self, text: &str) -> Result<(), String> {
        let set = self.0.set();
        #[cfg(all(
            unix,
            not(any(target_os = "macos", target_os = "android", target_os = "emscripten"))
        ))]
        let set = {
            use arboard::SetExtLinux;
            set.exclude_from_history()
        };
        set.text(text)
            .map_err(|e| format!("could not write the clipboard: {e}"))
    }

    fn get(&mut self) -> Option<String> {
        self.0.get_text().ok()
    }

    fn clear(&mut self) {
        let _ = self.0.clear();
    }
}

struct Pending {
    digest: [u8; 32],
    generation: u64,
}

struct Inner {
    board: Option<Box<dyn Board>>,
    pending: Option<Pending>,
    generation: u64,
}

/// The clipboard guard shared by the copy command, the lock path and exit.
#[derive(Clone)]
pub struct SecretClipboard(Arc<Mutex<Inner>>);

fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

impl SecretClipboard {
    /// A guard over `board` (connected lazily by [`SecretClipboard::system`]).
    pub fn new(board: Option<Box<dyn Board>>) -> Self {
        SecretClipboard(Arc::new(Mutex::new(Inner {
            board,
            pending: None,
            generation: 0,
        })))
    }

    /// A guard over the system clipboard, connected on first use.
    pub fn system() -> Self {
        SecretClipboard::new(None)
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Copies `text` and returns the generation to pass to
    /// [`SecretClipboard::clear_if_current`] when the timeout fires.
    pub fn copy(&self, text: &str) -> Result<u64, String> {
        let mut inner = self.inner();
        if inner.board.is_none() {
            inner.board = Some(Box::new(SystemBoard::new()?));
        }
        let board = inner.board.as_mut().ok_or("the clipboard is unavailable")?;
        board.set_secret(text)?;
        inner.generation += 1;
        let generation = inner.generation;
        inner.pending = Some(Pending {
            digest: digest(text),
            generation,
        });
        Ok(generation)
    }

    /// Clears the clipboard if copy number `generation` is still the latest
    /// and the clipboard still holds exactly what was copied.
    pub fn clear_if_current(&self, generation: u64) {
        let mut inner = self.inner();
        if inner.pending.as_ref().map(|p| p.generation) == Some(generation) {
            Self::clear_pending(&mut inner);
        }
    }

    /// Clears whatever Keyward copied last, if the clipboard still holds it
    /// (used on lock and on quit).
    pub fn clear_now(&self) {
        let mut inner = self.inner();
        Self::clear_pending(&mut inner);
    }

    fn clear_pending(inner: &mut Inner) {
        let Some(pending) = inner.pending.take() else {
            return;
        };
        if let Some(board) = inner.board.as_mut()
            && board
                .get()
                .is_some_and(|current| digest(&current) == pending.digest)
        {
            board.clear();
        }
    }

    /// Copies `text` and clears it after `after` on a background thread.
    pub fn copy_for(&self, text: &str, after: Duration) -> Result<(), String> {
        let generation = self.copy(text)?;
        let guard = self.clone();
        std::thread::spawn(move || {
            std::thread::sleep(after);
            guard.clear_if_current(generation);
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct FakeBoard(Arc<Mutex<Option<String>>>);

    impl Board for FakeBoard {
        fn set_secret(&mut self, text: &str) -> Result<(), String> {
            *self.0.lock().unwrap() = Some(text.to_string());
            Ok(())
        }
        fn get(&mut self) -> Option<String> {
            self.0.lock().unwrap().clone()
        }
        fn clear(&mut self) {
            *self.0.lock().unwrap() = None;
        }
    }

    fn guard() -> (SecretClipboard, FakeBoard) {
        let board = FakeBoard::default();
        (SecretClipboard::new(Some(Box::new(board.clone()))), board)
    }

    #[test]
    fn clears_when_unchanged() {
        let (clip, board) = guard();
        let generation = clip.copy("s3cret").unwrap();
        clip.clear_if_current(generation);
        assert_eq!(board.0.lock().unwrap().clone(), None);
    }

    #[test]
    fn leaves_what_the_user_copied_since() {
        let (clip, board) = guard();
        let generation = clip.copy("s3cret").unwrap();
        *board.0.lock().unwrap() = Some("shopping list".into());
        clip.clear_if_current(generation);
        assert_eq!(board.0.lock().unwrap().as_deref(), Some("shopping list"));
    }

    #[test]
    fn a_newer_copy_outlives_the_older_timer() {
        let (clip, board) = guard();
        let first = clip.copy("one").unwrap();
        let _second = clip.copy("two").unwrap();
        clip.clear_if_current(first);
        assert_eq!(board.0.lock().unwrap().as_deref(), Some("two"));
        clip.clear_now();
        assert_eq!(board.0.lock().unwrap().clone(), None);
    }

    #[test]
    fn clear_now_without_a_copy_is_harmless() {
        let (clip, board) = guard();
        *board.0.lock().unwrap() = Some("mine".into());
        clip.clear_now();
        assert_eq!(board.0.lock().unwrap().as_deref(), Some("mine"));
    }
}
