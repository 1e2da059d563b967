//! The netns + netlink engine: kernel objects, nothing about scripts or users.

pub(crate) mod addr_options;
pub(crate) mod error;
pub(crate) mod exec;
pub(crate) mod group_delete;
pub mod heap;
pub mod icmp;
pub(crate) mod keeper;
pub(crate) mod limits;
pub(crate) mod link_kinds;
pub(crate) mod link_props;
pub(crate) mod lookup;
pub(crate) mod neigh;
pub mod netlink;
pub(crate) mod netns;
pub(crate) mod nsmembers;
pub(crate) mod nsthread;
pub(crate) mod orphans;
pub(crate) mod output_cap;
pub mod pidns;
pub(crate) mod probe;
pub(crate) mod procnet;
pub(crate) mod route;
pub(crate) mod rule;
pub mod sandbox;
pub(crate) mod sandbox_hold;
pub(crate) mod spawn;
pub(crate) mod sysctl;
pub(crate) mod tc;
pub(crate) mod tc_options;
pub(crate) mod tcp_bench;
pub(crate) mod tcp_probe;
pub(crate) mod topo;
pub(crate) mod trusted_dir;
pub(crate) mod udp_bench;
pub(crate) mod udp_probe;

pub use error::{EngineError, Result};
