//! Policy routing rules: add, delete, list (`ip rule`).

use std::net::IpAddr;

use nix::errno::Errno;

use super::ledger::Object;
use super::validate_routes::{self as vr, NameOrNumber};
use super::{validate, Lab, LabError, Ns, Result, RuleView};
use crate::engine::route;
use crate::engine::rule::{self, Rule};

/// A rule as a script names it (`rule`, `rule_del`): every field optional, checked here.
#[derive(Debug, Clone, Default)]
pub struct RuleArgs {
    /// Source address selector (an address, a CIDR or "all").
    pub from: Option<String>,
    /// Destination selector (an address, a CIDR or "all").
    pub to: Option<String>,
    /// Input link name.
    pub iif: Option<String>,
    /// Output link name.
    pub oif: Option<String>,
    /// Firewall mark (and mask).
    pub fwmark: Option<NameOrNumber>,
    /// Routing table.
    pub table: Option<NameOrNumber>,
    /// Rule priority.
    pub priority: Option<u32>,
    /// Rule action ("lookup", "blackhole", "unreachable", "prohibit").
    pub action: Option<String>,
    /// "inet" or "inet6".
    pub family: Option<String>,
}

/// A rule's arguments resolved; None: not given.
struct Wanted {
    v6: Option<bool>,
    from: Option<Option<(IpAddr, u8)>>,
    to: Option<Option<(IpAddr, u8)>>,
    fwmark: Option<(u32, Option<u32>)>,
    table: Option<u32>,
    action: Option<u8>,
}

fn resolve(a: &RuleArgs) -> Result<Wanted> {
    let from = a.from.as_deref().map(|t| vr::prefix("rule source (from)", t)).transpose()?;
    let to = a.to.as_deref().map(|t| vr::prefix("rule destination (to)", t)).transpose()?;
    for name in [&a.iif, &a.oif].into_iter().flatten() {
        validate::link_name(name)?;
    }
    let mut v6 = a.family.as_deref().map(vr::family).transpose()?;
    let told = a.family.as_ref().map(|f| format!("family {f:?}"));
    for (what, p) in [("rule source (from)", from.flatten()), ("rule destination (to)", to.flatten())] {
        if let Some((ip, _)) = p {
            vr::same_family(what, ip, v6, told.as_deref().unwrap_or("the other address"))?;
            v6 = Some(ip.is_ipv6());
        }
    }
    Ok(Wanted {
        v6,
        from,
        to,
        fwmark: a.fwmark.as_ref().map(vr::fwmark).transpose()?,
        table: a.table.as_ref().map(vr::table).transpose()?,
        action: a.action.as_deref().map(vr::action).transpose()?,
    })
}

impl Wanted {
    fn matches(&self, a: &RuleArgs, r: &Rule) -> bool {
        self.v6.is_none_or(|v| r.v6 == v)
            && self.from.is_none_or(|f| r.from == f)
            && self.to.is_none_or(|t| r.to == t)
            && a.iif.as_ref().is_none_or(|i| r.iif.as_ref() == Some(i))
            && a.oif.as_ref().is_none_or(|o| r.oif.as_ref() == Some(o))
            && self.fwmark.is_none_or(|(m, k)| r.fwmark == m && r.fwmask == k)
            && self.table.is_none_or(|t| r.table == t)
            && a.priority.is_none_or(|p| r.priority == p)
            && self.action.is_none_or(|x| r.action == x)
    }
}

/// A rule as `ip rule` prints it: "32765: from 10.0.0.0/24 iif v0 lookup 100".
pub(super) fn describe(r: &Rule) -> String {
    let net = |p: Option<(IpAddr, u8)>| p.map(|(ip, len)| format!("{ip}/{len}")).unwrap_or_else(|| "all".into());
    let mut text = format!("{}: from {}", r.priority, net(r.from));
    if r.to.is_some() {
        text += &format!(" to {}", net(r.to));
    }
    if r.fwmark != 0 || r.fwmask.is_some() {
        text += &format!(" fwmark {:#x}", r.fwmark);
        if let Some(k) = r.fwmask {
            text += &format!("/{k:#x}");
        }
    }
    if let Some(i) = &r.iif {
        text += &format!(" iif {i}");
    }
    if let Some(o) = &r.oif {
        text += &format!(" oif {o}");
    }
    match r.action {
        1 => text += &format!(" lookup {}", table_name(r.table)),
        a => text += &format!(" {}", rule::action_name(a)),
    }
    if r.protocol != 0 {
        text += &format!(" proto {}", route::protocol_name(r.protocol));
    }
    text
}

/// A rule's words after `ip rule add|del` (with ` -6` before `rule` for IPv6), as the script
/// gave them (`run --trace`).
fn rule_words(a: &RuleArgs) -> String {
    use super::trace::word;
    let mut out = String::new();
    for (key, v) in [("from", &a.from), ("to", &a.to), ("iif", &a.iif), ("oif", &a.oif)] {
        if let Some(v) = v {
            out += &format!(" {key} {}", word(v));
        }
    }
    if let Some(m) = &a.fwmark {
        out += &format!(" fwmark {}", word(&m.to_string()));
    }
    if let Some(p) = a.priority {
        out += &format!(" priority {p}");
    }
    match (&a.action, &a.table) {
        (Some(act), _) if act != "lookup" => out += &format!(" {}", word(act)),
        (_, Some(t)) => out += &format!(" lookup {}", word(&t.to_string())),
        _ => {}
    }
    out
}

/// " -6" for an IPv6 rule (by its family or an address), "" otherwise.
fn family_word(a: &RuleArgs) -> &'static str {
    let v6 = a.family.as_deref().map(|f| f == "inet6" || f == "ipv6").unwrap_or(false)
        || [&a.from, &a.to].into_iter().flatten().any(|t| t.contains(':'));
    if v6 {
        " -6"
    } else {
        ""
    }
}

fn table_name(t: u32) -> String {
    match t {
        route::MAIN_TABLE => "main".into(),
        route::LOCAL_TABLE => "local".into(),
        route::DEFAULT_TABLE => "default".into(),
        n => n.to_string(),
    }
}

fn prefix_text(p: Option<(IpAddr, u8)>) -> String {
    p.map(|(ip, len)| format!("{ip}/{len}")).unwrap_or_default()
}

fn record(ns: &Ns, ns_inode: u64, r: &Rule) -> Object {
    Object::Rule {
        ns: ns.key(),
        ns_inode,
        v6: r.v6,
        priority: r.priority,
        table: r.table,
        action: r.action,
        from: prefix_text(r.from),
        to: prefix_text(r.to),
        iif: r.iif.clone().unwrap_or_default(),
        oif: r.oif.clone().unwrap_or_default(),
        fwmark: r.fwmark,
        fwmask: r.fwmask,
        protocol: r.protocol,
    }
}

/// A rule record as the kernel would report it; None for a record that does not parse.
pub(super) fn rule_of_record(obj: &Object) -> Option<Rule> {
    let Object::Rule { v6, priority, table, action, from, to, iif, oif, fwmark, fwmask, protocol, .. } = obj else {
        return None;
    };
    let net = |t: &str| -> Option<Option<(IpAddr, u8)>> {
        if t.is_empty() {
            return Some(None);
        }
        vr::prefix("rule address", t).ok()
    };
    let name = |t: &str| (!t.is_empty()).then(|| t.to_string());
    Some(Rule {
        v6: *v6,
        from: net(from)?,
        to: net(to)?,
        iif: name(iif),
        oif: name(oif),
        fwmark: *fwmark,
        fwmask: *fwmask,
        table: *table,
        priority: *priority,
        action: *action,
        protocol: *protocol,
        extra: false,
    })
}

impl Lab {
    fn rules_of(&mut self, ns: &Ns, v6: Option<bool>) -> Result<Vec<Rule>> {
        let conn = self.conn(ns)?;
        let mut out = Vec::new();
        for fam in [false, true] {
            if v6.is_none_or(|v| v == fam) {
                out.extend(self.block_on(conn.rules(fam)).map_err(|e| LabError::from_engine(format!("list rules in {ns}"), e))?);
            }
        }
        Ok(out)
    }

    /// Adds a policy rule (`ip rule add`): action "lookup" (in `table`, main by default) or
    /// "blackhole", "unreachable", "prohibit"; IPv4 unless an address or `family` says IPv6;
    /// the priority the kernel would choose unless given. Marked with nslab's protocol.
    pub fn rule(&mut self, ns: &Ns, a: &RuleArgs) -> Result<()> {
        self.trace(|| format!("{}{} rule add{}", super::trace::ip(ns), family_word(a), rule_words(a)));
        let w = resolve(a)?;
        let v6 = w.v6.unwrap_or(false);
        let action = w.action.unwrap_or(1);
        if action != 1 && w.table.is_some() {
            return Err(LabError::Invalid {
                what: "rule",
                value: format!("action {:?}", rule::action_name(action)),
                reason: "only a lookup rule takes a table".into(),
            });
        }
        let (fwmark, fwmask) = w.fwmark.unwrap_or((0, None));
        let priority = match a.priority {
            Some(p) => p,
            None => rule::default_priority(&self.rules_of(ns, Some(v6))?),
        };
        let r = Rule {
            v6,
            from: w.from.flatten(),
            to: w.to.flatten(),
            iif: a.iif.clone(),
            oif: a.oif.clone(),
            fwmark,
            fwmask,
            table: if action == 1 { w.table.unwrap_or(route::MAIN_TABLE) } else { 0 },
            priority,
            action,
            protocol: route::NSLAB_PROTOCOL,
            extra: false,
        };
        let rec = if !self.records(ns) {
            None
        } else {
            let ns_inode = self.ns_inode(ns)?;
            Some(record(ns, ns_inode, &r))
        };
        if let Some(o) = &rec {
            self.ledger_mut()?.intent(o)?;
        }
        let conn = self.conn(ns)?;
        let done = self.block_on(conn.add_rule(&r));
        match (&done, rec) {
            (Ok(()), Some(o)) => {
                self.ledger_mut()?.made(&o)?;
                self.changed.rules.push(o);
            }
            (Err(_), Some(o)) => self.ledger_mut()?.failed(&o)?,
            _ => {}
        }
        done.map_err(|e| match e.code() {
            Some(Errno::EEXIST) => LabError::Exists { what: "rule", name: describe(&r), owner: format!(" in {ns}") },
            _ => LabError::from_engine(format!("add rule {} in {ns}", describe(&r)), e),
        })
    }

    /// Deletes the one rule the arguments name (`ip rule del`): every field given must match,
    /// fields not given match anything, and when that leaves several rules nothing is deleted.
    pub fn rule_del(&mut self, ns: &Ns, a: &RuleArgs) -> Result<()> {
        let w = resolve(a)?;
        let rules = self.rules_of(ns, w.v6)?;
        let matching: Vec<&Rule> = rules.iter().filter(|r| w.matches(a, r)).collect();
        let found = match matching.as_slice() {
            [one] => (*one).clone(),
            [] => {
                let list: Vec<String> = rules.iter().map(describe).collect();
                return Err(LabError::Refused(format!("no rule in {ns} has what was given; its rules are: {}", list.join("; "))));
            }
            several => {
                let list: Vec<String> = several.iter().map(|r| describe(r)).collect();
                return Err(LabError::Refused(format!(
                    "{} rules in {ns} match, and rule_del removes exactly one: {}; say which with priority, from, table, ...",
                    several.len(),
                    list.join("; ")
                )));
            }
        };
        // Said once the rule is found: its family is known then, whatever was given.
        let six = if found.v6 { " -6" } else { "" };
        self.trace(|| format!("{}{six} rule del{}", super::trace::ip(ns), rule_words(a)));
        if found.extra {
            return Err(LabError::Refused(format!(
                "the rule {} in {ns} also matches on what nslab does not set (tos, ports, uid range, not, ...): delete it with ip rule del",
                describe(&found)
            )));
        }
        let conn = self.conn(ns)?;
        let deleted = self
            .block_on(conn.del_rule_exact(&found))
            .map_err(|e| LabError::from_engine(format!("delete rule {} in {ns}", describe(&found)), e))?;
        if !deleted {
            return Err(LabError::Refused(format!("the rule {} in {ns} went away while it was being deleted", describe(&found))));
        }
        let recorded: Vec<Object> = std::mem::take(&mut self.changed.rules);
        for o in recorded {
            if matches!(&o, Object::Rule { ns: n, .. } if *n == ns.key()) && rule_of_record(&o).is_some_and(|r| r.same(&found)) {
                self.forget(&o)?;
            } else {
                self.changed.rules.push(o);
            }
        }
        Ok(())
    }

    /// The rules of `ns` (`ip rule show`), both families unless `family` says one.
    pub fn rules(&mut self, ns: &Ns, family: Option<&str>) -> Result<Vec<RuleView>> {
        let v6 = family.map(vr::family).transpose()?;
        let net = |p: Option<(IpAddr, u8)>| p.map(|(ip, len)| format!("{ip}/{len}")).unwrap_or_else(|| "all".into());
        Ok(self
            .rules_of(ns, v6)?
            .into_iter()
            .map(|r| RuleView {
                family: if r.v6 { "inet6".into() } else { "inet".into() },
                priority: r.priority,
                from: net(r.from),
                to: net(r.to),
                iif: r.iif.clone().unwrap_or_default(),
                oif: r.oif.clone().unwrap_or_default(),
                fwmark: r.fwmark,
                fwmask: match (r.fwmark, r.fwmask) {
                    (_, Some(k)) => k,
                    (0, None) => 0,
                    (_, None) => u32::MAX,
                },
                table: r.table,
                action: rule::action_name(r.action),
                protocol: route::protocol_name(r.protocol),
            })
            .collect())
    }
}
