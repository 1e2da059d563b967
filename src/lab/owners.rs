//! Who holds a name: when the kernel says "File exists", the error names the lab (name, id,
//! pid) whose ledger lists the object, or says that nslab did not create it.

use super::ledger::{self, Object, Record};
use super::{Lab, Ns};

fn describe(rec: &Record) -> String {
    let state = if rec.alive() { "running" } else { "dead: `nslab clean` removes it" };
    format!("lab {:?}, id {}, pid {}, {state}", rec.header.name, rec.header.id, rec.header.pid)
}

impl Lab {
    /// The lab whose ledger lists an object matching `is_it`, other than this one.
    fn other_owner(&self, is_it: &dyn Fn(&Object) -> bool) -> Option<String> {
        ledger::read_all(&self.opts.ledger_dir)
            .into_iter()
            .filter(|rec| Some(rec.header.id.as_str()) != self.id())
            .find(|rec| rec.objects.iter().chain(rec.pending.iter()).any(is_it))
            .map(|rec| describe(&rec))
    }

    /// " in NS (owned by ...)" for a link that already exists: the lab that created it, or the
    /// lab that created the namespace it is in, or "not created by nslab".
    pub(super) fn link_owner(&self, ns: &Ns, link: &str) -> String {
        let key = ns.key();
        if self.made_links.contains(&(key.clone(), link.to_string())) {
            return format!(" in {ns} (this lab created it earlier)");
        }
        if self.owns(ns) {
            return format!(" in {ns}");
        }
        let listed = |o: &Object| match o {
            Object::Link { ns: n, name, .. } => *n == key && name == link,
            Object::Netns { name, .. } => key.as_deref() == Some(name.as_str()),
            _ => false,
        };
        match self.other_owner(&listed) {
            Some(owner) => format!(" in {ns} (owned by {owner})"),
            None => format!(" in {ns} (not created by nslab)"),
        }
    }
}
