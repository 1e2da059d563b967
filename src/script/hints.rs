//! What the user could do about a lab's error, in the language's words (functions to call) and
//! the command line's (flags): the lab's errors say what happened, this layer adds the hint.

use crate::lab::LabError;

/// What the user could do about `e`, when there is something to say.
pub fn hint(e: &LabError) -> Option<String> {
    match e {
        LabError::Deferred { error, .. } => hint(error),
        LabError::PermissionDenied { .. } => Some(
            "changing network namespaces needs CAP_NET_ADMIN: run as root, or run with --sandbox \
             to work in a private namespace"
                .into(),
        ),
        LabError::NoSuchNetns(name) => {
            Some(format!("create it first with netns_add({name:?}); netns_list() shows the ones that exist"))
        }
        LabError::NoSuchLink { .. } => {
            Some("links(ns) lists the links a namespace has; a link moved with move_to is found in its new namespace".into())
        }
        LabError::Exists { what: "link", .. } => {
            Some("a namespace holds one link of each name: pick another name, or rename the one there first".into())
        }
        LabError::Exists { what: "route", .. } => Some(
            "the kernel keeps one route per destination and metric: remove that one with route_del, or give this \
             one another metric (#{via, metric})"
                .into(),
        ),
        LabError::Exists { what: "namespace", .. } => {
            Some("pick another name, or use netns(name) to work with the existing one".into())
        }
        LabError::Unsupported { .. } => Some("this kernel was built without that feature and cannot load modules".into()),
        _ => None,
    }
}
