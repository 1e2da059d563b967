//! What a lab that outlived its run has in its own namespaces, read from the kernel: the ledger
//! lists only objects outside them (deleting a namespace removes what is inside), so `nslab ls`
//! counts the inside here.

use std::net::IpAddr;

use super::error::{LabError, Result};
use crate::engine::netlink::Conn;
use crate::engine::netns;

/// Counts over a lab's namespaces, as `ip link`, `ip addr` and `ip route` show them (links but
/// `lo`; addresses of global scope; routes of the main table but IPv6 link-local ones).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Census {
    pub links: usize,
    pub addrs: usize,
    pub routes: usize,
}

fn link_local(ip: &IpAddr) -> bool {
    matches!(ip, IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80)
}

/// Counts what stands in the named namespaces (those that are gone count nothing).
pub fn count(namespaces: &[String]) -> Result<Census> {
    let failed = |op: String| move |e: crate::engine::EngineError| LabError::from_engine(op, e);
    let home = netns::current().map_err(failed("open nslab's own namespace".into()))?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| LabError::Failed {
        op: "start a netlink runtime".into(),
        detail: e.to_string(),
        errno: None,
    })?;
    let mut census = Census::default();
    for name in namespaces {
        let Ok(file) = netns::open_named(name) else { continue };
        rt.block_on(async {
            let conn = Conn::open(Some(&file), &home).map_err(failed(format!("enter namespace {name}")))?;
            let links = conn.links().await.map_err(failed(format!("list links in {name}")))?;
            let lo: Vec<u32> = links.iter().filter(|l| l.name == "lo").map(|l| l.index).collect();
            census.links += links.len() - lo.len();
            let addrs = conn.addrs().await.map_err(failed(format!("list addresses in {name}")))?;
            census.addrs += addrs.iter().filter(|a| a.scope == "global" && !lo.contains(&a.index)).count();
            let routes = conn.routes().await.map_err(failed(format!("list routes in {name}")))?;
            census.routes += routes.iter().filter(|r| !r.dst.is_some_and(|(ip, _)| link_local(&ip))).count();
            Ok::<(), LabError>(())
        })?;
    }
    Ok(census)
}
