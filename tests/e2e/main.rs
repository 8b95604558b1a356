//! GUI end-to-end tests (placeholder).
