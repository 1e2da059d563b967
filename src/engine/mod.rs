//! The netns + netlink engine: kernel objects, nothing about scripts or users.

pub mod error;
pub mod exec;
pub mod icmp;
pub mod lookup;
pub mod netlink;
pub mod netns;
pub mod probe;
pub mod route;
pub mod sandbox;

pub use error::{EngineError, Result};
