//! Routes: add, delete, list.

use nix::errno::Errno;

use super::ledger::Object;
use super::{validate, Lab, LabError, Ns, Result, RouteView};
use crate::engine::route::RouteSpec;
use crate::engine::EngineError;

impl Lab {
    pub fn route(&mut self, ns: &Ns, dst: &str, via: Option<&str>, dev: Option<&str>, metric: Option<u32>) -> Result<()> {
        let spec = self.route_spec(ns, dst, via, dev, metric)?;
        let record = (!self.owns(ns)).then(|| Object::Route { ns: ns.key(), dst: dst.into(), via: via.unwrap_or("").into() });
        if let Some(r) = &record {
            self.ledger_mut()?.intent(r)?;
        }
        let conn = self.conn(ns)?;
        let done = self.block_on(conn.add_route(&spec));
        match (&done, &record) {
            (Ok(()), Some(r)) => self.ledger_mut()?.made(r)?,
            (Err(_), Some(r)) => self.ledger_mut()?.failed(r)?,
            _ => {}
        }
        done.map_err(|e| match e.code() {
            Some(Errno::EEXIST) => LabError::Exists { what: "route", name: dst.into(), owner: format!(" in {ns}") },
            Some(Errno::ENETUNREACH) => LabError::Failed {
                op: format!("add route {dst} in {ns}"),
                detail: format!("the gateway {} is not on any directly connected network there", via.unwrap_or("?")),
                errno: Some(Errno::ENETUNREACH),
            },
            _ => LabError::from_engine(format!("add route {dst} in {ns}"), e),
        })
    }

    /// Deletes a route; a gateway, device or metric given must match (`ip route del`).
    pub fn route_del(&mut self, ns: &Ns, dst: &str, via: Option<&str>, dev: Option<&str>, metric: Option<u32>) -> Result<()> {
        let mut spec = route_spec(dst, via.unwrap_or(""))?;
        if let Some(dev) = dev {
            spec.dev = Some(self.index(ns, dev)?);
        }
        spec.metric = metric;
        let conn = self.conn(ns)?;
        self.block_on(conn.del_route(&spec)).map_err(|e| match e.code() {
            Some(Errno::ESRCH) => LabError::Failed {
                op: format!("delete route {dst} in {ns}"),
                detail: "no such route".into(),
                errno: Some(Errno::ESRCH),
            },
            _ => LabError::from_engine(format!("delete route {dst} in {ns}"), e),
        })?;
        self.forget(&Object::Route { ns: ns.key(), dst: dst.into(), via: via.unwrap_or("").into() })
    }

    fn route_spec(&mut self, ns: &Ns, dst: &str, via: Option<&str>, dev: Option<&str>, metric: Option<u32>) -> Result<RouteSpec> {
        let mut spec = route_spec(dst, via.unwrap_or(""))?;
        if let Some(dev) = dev {
            spec.dev = Some(self.index(ns, dev)?);
        }
        if via.is_none() && dev.is_none() {
            return Err(LabError::Invalid {
                what: "route",
                value: dst.into(),
                reason: "it needs a gateway (via) or a device (dev)".into(),
            });
        }
        spec.metric = metric;
        Ok(spec)
    }

    pub fn routes(&mut self, ns: &Ns) -> Result<Vec<RouteView>> {
        let conn = self.conn(ns)?;
        let (links, routes) = self
            .block_on(async { Ok::<_, EngineError>((conn.links().await?, conn.routes().await?)) })
            .map_err(|e| LabError::from_engine(format!("list routes in {ns}"), e))?;
        Ok(routes
            .iter()
            .map(|r| RouteView {
                dst: r.dst.map(|(ip, len)| format!("{ip}/{len}")).unwrap_or_else(|| "default".into()),
                via: r.via.map(|v| v.to_string()).unwrap_or_default(),
                dev: r.dev.and_then(|i| links.iter().find(|l| l.index == i)).map(|l| l.name.clone()).unwrap_or_default(),
                metric: r.metric,
                protocol: r.protocol.clone(),
                scope: r.scope.clone(),
                family: if r.v6 { "inet6".into() } else { "inet".into() },
            })
            .collect())
    }
}

/// A route's destination and gateway, parsed ("default", "10.0.0.0/8"; "" for no gateway).
pub fn route_spec(dst: &str, via: &str) -> Result<RouteSpec> {
    let mut spec = RouteSpec::default();
    if dst != "default" {
        let c = validate::cidr(dst)?;
        spec.dst = Some((c.ip, c.prefix));
        spec.v6 = c.ip.is_ipv6();
    }
    if !via.is_empty() {
        let gw = validate::ip(via)?;
        if spec.dst.is_some() && gw.is_ipv6() != spec.v6 {
            return Err(LabError::Invalid {
                what: "gateway",
                value: via.into(),
                reason: format!("it is not of the same family as {dst}"),
            });
        }
        spec.v6 = gw.is_ipv6();
        spec.via = Some(gw);
    }
    Ok(spec)
}
