//! The netns + netlink engine: kernel objects, nothing about scripts or users.

pub mod error;
pub mod exec;
pub mod icmp;
pub mod netlink;
pub mod netns;
pub mod route;
pub mod sandbox;
pub mod tc;
pub mod tc_options;
pub mod tcp_bench;

pub use error::{EngineError, Result};
