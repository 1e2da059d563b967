//! nslab: network-namespace labs as Rhai scripts, carried out natively through netlink.
//!
//! Layers, each depending only on the ones below it:
//! command line / REPL / runner (`cli`) → script bindings (`script`) → lab (`lab`) → engine (`engine`).

pub mod cli;
pub mod engine;
pub mod lab;
pub mod script;
