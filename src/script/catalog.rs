//! Every function nslab adds to Rhai, group by group: each group's table (`defs_*.rs`) holds
//! the functions' forms, documentation and handlers (see `native.rs`). Registration, `check`,
//! `:help`, hints, completion and `nslab doc` all read these tables.

pub use super::native::{form_arity, Native};

/// Every group of native functions; a feature adds its own table here.
const GROUPS: &[&[Native]] = &[
    super::defs_core::CORE,
    super::defs_links::LINKS,
    super::defs_neigh::NEIGH,
    super::defs_routes::ROUTES,
    super::defs_net::NET,
    super::defs_link_edit::LINK_EDIT,
    super::defs_traffic::TRAFFIC,
    super::defs_probe::PROBE,
    super::defs_testing::TESTING,
    super::defs_processes::PROCESSES,
    super::defs_view::VIEW,
    super::defs_machines::MACHINES,
    super::defs_throughput_parts::THROUGHPUT_PARTS,
];

/// Every native function, group by group.
pub fn all() -> impl Iterator<Item = &'static Native> {
    GROUPS.iter().flat_map(|g| g.iter())
}

/// The native function `name`.
pub fn find(name: &str) -> Option<&'static Native> {
    all().find(|d| d.name == name)
}

/// The tables, for registration.
pub(crate) fn groups() -> &'static [&'static [Native]] {
    GROUPS
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;
    use crate::script::Session;

    /// What is registered is exactly what the tables' forms say.
    #[test]
    fn catalog_matches_registrations() {
        let session = Session::new(None, Path::new("."), std::rc::Rc::new(|_: &str| {}));
        let registered: BTreeSet<(String, usize)> = session.registered.iter().map(|(n, a)| (n.to_string(), *a)).collect();
        let documented: BTreeSet<(String, usize)> =
            all().flat_map(|d| d.forms.iter().map(move |f| (d.name.to_string(), form_arity(f)))).collect();
        assert_eq!(registered, documented);
    }

    /// Names are unique, and every function has a summary, an example and an equivalent.
    #[test]
    fn every_function_is_documented_once() {
        let mut names = BTreeSet::new();
        for d in all() {
            assert!(names.insert(d.name), "{} defined twice", d.name);
            assert!(!d.summary.is_empty() && !d.example.is_empty() && !d.ip.is_empty(), "{} lacks documentation", d.name);
            assert!(d.forms.iter().all(|f| f.starts_with(&format!("{}(", d.name))), "{}: a form names another function", d.name);
        }
    }
}
