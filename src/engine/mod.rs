//! The netns + netlink engine: kernel objects, nothing about scripts or users.

pub mod error;
pub mod exec;
pub mod heap;
pub mod icmp;
pub mod keeper;
pub mod limits;
pub mod link_kinds;
pub mod lookup;
pub mod netlink;
pub mod netns;
pub mod nsmembers;
pub mod nsthread;
pub mod orphans;
pub mod output_cap;
pub mod pidns;
pub mod probe;
pub mod procnet;
pub mod route;
pub mod sandbox;
pub mod spawn;
pub mod sysctl;
pub mod tc;
pub mod tc_options;
pub mod tcp_bench;
pub mod trusted_dir;

pub use error::{EngineError, Result};
