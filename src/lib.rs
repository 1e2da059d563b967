#![warn(missing_docs)]
//! nslab: network-namespace labs as Rhai scripts, carried out natively through netlink.
//!
//! The `nslab` binary is a thin shell over this library ([`cli::main`]). The library is also
//! meant to be embedded: a Rust program can build a lab of network namespaces, links, addresses
//! and routes directly through [`lab::Lab`], run programs and probes in it, hand the same lab to
//! a Rhai script through [`script::Session`], and tear everything down again. See
//! `examples/embed.rs` for a complete program (`cargo run --example embed`).
//!
//! Layers, each depending only on the ones below it:
//! command line / REPL / runner ([`cli`]) → script bindings ([`script`]) → lab ([`lab`]) →
//! engine ([`engine`]).
//!
//! - [`engine`]: the kernel, reached natively (netlink, namespaces, sockets, processes). Public
//!   here only for what an embedder needs: the sandbox ([`engine::sandbox::enter`]), the PID
//!   namespace helper ([`engine::pidns::serve_if_asked`]), the option types taken by the lab,
//!   and the counting allocator the binary installs ([`engine::heap::Counting`]).
//! - [`lab`]: the user's objects by name, checked before the kernel sees them, recorded in a
//!   ledger so that teardown removes exactly what the lab made.
//! - [`script`]: the Rhai engine with nslab's functions, running scripts against a lab.
//!
//! Everything that creates kernel objects must run in a network namespace of its own (for
//! example after [`engine::sandbox::enter`]), never in the machine's own.

pub mod cli;
pub mod engine;
pub mod lab;
pub mod script;
