//! Policy routing rules through netlink: add, delete, list (`ip rule`).

use std::net::IpAddr;

use futures::TryStreamExt;
use rtnetlink::packet_route::route::RouteProtocol;
use rtnetlink::packet_route::rule::{RuleAction, RuleAttribute, RuleFlags, RuleMessage};
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::IpVersion;

use super::error::{EngineError, Result};
use super::netlink::Conn;

/// FR_ACT_* numbers of the actions nslab creates, by the names `ip rule` gives them.
pub const ACTIONS: &[(&str, u8)] = &[("lookup", 1), ("blackhole", 6), ("unreachable", 7), ("prohibit", 8)];

/// An action's name as `ip rule` prints it.
pub fn action_name(action: u8) -> String {
    match action {
        1 => "lookup".into(),
        2 => "goto".into(),
        3 => "nop".into(),
        6 => "blackhole".into(),
        7 => "unreachable".into(),
        8 => "prohibit".into(),
        n => n.to_string(),
    }
}

/// A rule: everything nslab sets, and (read back) whether the kernel's copy has more.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rule {
    pub v6: bool,
    pub from: Option<(IpAddr, u8)>,
    pub to: Option<(IpAddr, u8)>,
    pub iif: Option<String>,
    pub oif: Option<String>,
    /// 0: no mark match.
    pub fwmark: u32,
    /// None: the whole mark (0xffffffff) when there is a mark.
    pub fwmask: Option<u32>,
    /// 0 for actions other than lookup.
    pub table: u32,
    pub priority: u32,
    /// FR_ACT_*.
    pub action: u8,
    pub protocol: u8,
    /// Read back only: the rule also matches on something nslab does not set (tos, ports,
    /// uid range, not, goto, ...), so it is not the rule these fields describe.
    pub extra: bool,
}

impl Rule {
    fn message(&self) -> RuleMessage {
        let mut m = RuleMessage::default();
        m.header.family = if self.v6 { AddressFamily::Inet6 } else { AddressFamily::Inet };
        m.header.action = RuleAction::from(self.action);
        m.header.table = u8::try_from(self.table).unwrap_or(0);
        if let Some((ip, len)) = self.from {
            m.header.src_len = len;
            m.attributes.push(RuleAttribute::Source(ip));
        }
        if let Some((ip, len)) = self.to {
            m.header.dst_len = len;
            m.attributes.push(RuleAttribute::Destination(ip));
        }
        if let Some(i) = &self.iif {
            m.attributes.push(RuleAttribute::Iifname(i.clone()));
        }
        if let Some(o) = &self.oif {
            m.attributes.push(RuleAttribute::Oifname(o.clone()));
        }
        if self.fwmark != 0 {
            m.attributes.push(RuleAttribute::FwMark(self.fwmark));
        }
        if let Some(mask) = self.fwmask {
            m.attributes.push(RuleAttribute::FwMask(mask));
        }
        if self.table != 0 {
            m.attributes.push(RuleAttribute::Table(self.table));
        }
        m.attributes.push(RuleAttribute::Priority(self.priority));
        m.attributes.push(RuleAttribute::Protocol(RouteProtocol::from(self.protocol)));
        m
    }

    /// Whether the kernel's search for a rule to delete (`rule_find`), given this rule's
    /// fields, would stop at `r`: fields it leaves unset match anything.
    fn would_take(&self, r: &Rule) -> bool {
        r.v6 == self.v6
            && r.action == self.action
            && (self.table == 0 || r.table == self.table)
            && r.priority == self.priority
            && (self.iif.is_none() || r.iif == self.iif)
            && (self.oif.is_none() || r.oif == self.oif)
            && (self.fwmark == 0 || r.fwmark == self.fwmark)
            && (self.fwmask.is_none() || r.fwmask == self.fwmask)
            && (self.protocol == 0 || r.protocol == self.protocol)
            && (self.from.is_none() || r.from == self.from)
            && (self.to.is_none() || r.to == self.to)
    }

    /// Equal in every field (and without anything more).
    pub fn same(&self, r: &Rule) -> bool {
        !r.extra && Rule { extra: false, ..r.clone() } == Rule { extra: false, ..self.clone() }
    }
}

fn rule_of(m: &RuleMessage) -> Rule {
    let mut r = Rule {
        v6: m.header.family == AddressFamily::Inet6,
        action: u8::from(m.header.action),
        table: u32::from(m.header.table),
        extra: m.header.tos != 0 || m.header.flags.contains(RuleFlags::Invert),
        ..Rule::default()
    };
    let mut mask = None;
    for a in &m.attributes {
        match a {
            RuleAttribute::Source(ip) => r.from = Some((*ip, m.header.src_len)),
            RuleAttribute::Destination(ip) => r.to = Some((*ip, m.header.dst_len)),
            RuleAttribute::Iifname(s) => r.iif = Some(s.clone()),
            RuleAttribute::Oifname(s) => r.oif = Some(s.clone()),
            RuleAttribute::FwMark(x) => r.fwmark = *x,
            RuleAttribute::FwMask(x) => mask = Some(*x),
            RuleAttribute::Table(t) => r.table = *t,
            RuleAttribute::Priority(p) => r.priority = *p,
            RuleAttribute::Protocol(p) => r.protocol = u8::from(*p),
            // Dumped for every rule with their "unset" values.
            RuleAttribute::SuppressPrefixLen(x) | RuleAttribute::SuppressIfGroup(x) if *x == u32::MAX => {}
            RuleAttribute::L3MDev(false) => {}
            _ => r.extra = true,
        }
    }
    // The kernel dumps a mask only when it is not the whole mark; no mark: mask 0.
    r.fwmask = mask.filter(|m| *m != 0 || r.fwmark != 0).filter(|m| *m != u32::MAX);
    r
}

impl Conn {
    /// The rules of one family in the kernel's order (by priority).
    pub async fn rules(&self, v6: bool) -> Result<Vec<Rule>> {
        let msgs: Vec<RuleMessage> = self
            .handle
            .rule()
            .get(if v6 { IpVersion::V6 } else { IpVersion::V4 })
            .execute()
            .try_collect()
            .await
            .map_err(|e| EngineError::from_netlink("list rules", e))?;
        Ok(msgs.iter().map(rule_of).collect())
    }

    /// Adds a rule exactly as given (its priority stated); EEXIST when the same rule exists.
    pub async fn add_rule(&self, rule: &Rule) -> Result<()> {
        let mut req = self.handle.rule().add();
        *req.message_mut() = rule.message();
        req.execute().await.map_err(|e| EngineError::from_netlink("add rule", e))
    }

    /// Deletes the rule equal to `rule` in every field, only when it exists and is the one the
    /// kernel would take for that request (it deletes the first rule matching the fields
    /// given): Ok(false) when there is none; an error naming the rule that stands in the way.
    pub async fn del_rule_exact(&self, rule: &Rule) -> Result<bool> {
        let rules = self.rules(rule.v6).await?;
        let Some(first) = rules.iter().find(|r| rule.would_take(r)) else { return Ok(false) };
        if !rule.same(first) {
            if !rules.iter().any(|r| rule.same(r)) {
                return Ok(false);
            }
            return Err(EngineError::errno(
                "delete rule: another rule with the same priority and fields comes first and would be deleted instead",
                nix::errno::Errno::EBUSY,
            ));
        }
        match self.handle.rule().del(rule.message()).execute().await {
            Ok(()) => Ok(true),
            Err(e) => {
                let e = EngineError::from_netlink("delete rule", e);
                if e.code() == Some(nix::errno::Errno::ENOENT) {
                    Ok(false)
                } else {
                    Err(e)
                }
            }
        }
    }
}

/// The priority the kernel gives a rule added without one (`fib_default_rule_pref`): one less
/// than the second rule's, when that is above 0.
pub fn default_priority(rules: &[Rule]) -> u32 {
    rules.get(1).map(|r| r.priority.saturating_sub(1)).unwrap_or(0)
}
