//! Who holds a name: when the kernel says "File exists", the error names the lab (name, id,
//! pid) whose ledger lists the object, made or still being made, or says that nslab did not
//! create it.

use super::ledger::{self, Object, Record};
use super::{Lab, Ns};

/// "owned by lab ..." for an object a lab made; for one it announced but has not recorded as
/// made: "being created by lab ..." while that lab runs, or an interrupted creation once it died.
fn describe(rec: &Record, made: bool) -> String {
    let lab = format!("lab {:?}, id {}, pid {}", rec.header.name, rec.header.id, rec.header.pid);
    match (made, rec.alive()) {
        (true, true) => format!("owned by {lab}, running"),
        (true, false) => format!("owned by {lab}, whose process is gone: a clean-up of dead labs removes it"),
        (false, true) => format!("being created by {lab}"),
        (false, false) => {
            format!("left half-made by {lab}, whose process is gone: a clean-up of dead labs removes it if it is still the lab's")
        }
    }
}

impl Lab {
    /// The lab whose ledger lists an object matching `is_it`, other than this one: what it says
    /// of it, for an error message.
    pub(super) fn other_owner(&self, is_it: &dyn Fn(&Object) -> bool) -> Option<String> {
        ledger::read_all(&self.opts.ledger_dir).into_iter().filter(|rec| Some(rec.header.id.as_str()) != self.id()).find_map(
            |rec| {
                let made = rec.objects.iter().any(is_it);
                (made || rec.pending.iter().any(is_it)).then(|| describe(&rec, made))
            },
        )
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
            Some(owner) => format!(" in {ns} ({owner})"),
            None => format!(" in {ns} (not created by nslab)"),
        }
    }
}
