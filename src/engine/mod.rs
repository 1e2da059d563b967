//! The netns + netlink engine: kernel objects, nothing about scripts or users.

pub mod error;
pub mod exec;
pub mod icmp;
pub mod link_kinds;
pub mod netlink;
pub mod netns;
pub mod nsthread;
pub mod procnet;
pub mod route;
pub mod sandbox;
pub mod sysctl;

pub use error::{EngineError, Result};
