//! The netns + netlink engine: kernel objects, nothing about scripts or users.

pub mod error;
pub mod exec;
pub mod icmp;
pub mod netlink;
pub mod netns;
pub mod route;
pub mod sandbox;
pub mod spawn;

pub use error::{EngineError, Result};
