//! [`SessionStore`](bonin_domain::SessionStore) implementations, each behind a cargo feature, and the
//! conformance suite they all pass.
//!
//! | feature | store | use it for |
//! |---|---|---|
//! | `memory` (default) | [`MemoryStore`] | tests, the sandbox, one instance that may lose sessions on restart |
//!
//! A new store proves itself by running the suite:
//!
//! ```ignore
//! bonin_adapters_store::store_conformance_tests!(my_harness().await);
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "conformance")]
pub mod conformance;
#[cfg(feature = "memory")]
mod memory;

#[cfg(feature = "memory")]
pub use memory::MemoryStore;
