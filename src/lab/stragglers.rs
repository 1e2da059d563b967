//! Processes still running in a dead lab's network namespaces. A lab's programs end with its
//! PID namespace (see `engine::pidns`); what can still be found in its namespaces when `nslab
//! down` or `clean` removes them was started some other way: by a lab whose programs had no PID
//! namespace (an unprivileged run, a program embedding nslab), or entered by hand (`ip netns
//! exec`). A namespace about to be deleted is no place to leave them: they would keep it, and
//! the veth peers in it, alive out of sight.

use std::collections::HashSet;
use std::time::Duration;

use crate::engine::netns;
use crate::engine::nsmembers::{self, Kind};

/// How long processes get to go after SIGKILL.
const END_WAIT: Duration = Duration::from_secs(2);

/// Ends every process whose network namespace is one of `names` (already confirmed to be the
/// lab's, and still mounted). Returns how many ran, or why some are still there.
pub fn end_in(names: &[&str]) -> Result<usize, String> {
    let inodes: HashSet<u64> =
        names.iter().filter_map(|name| netns::open_named(name).and_then(|f| netns::inode_of(&f)).ok()).collect();
    if inodes.is_empty() {
        return Ok(0);
    }
    nsmembers::end_members(Kind::Net, &inodes, END_WAIT).map_err(|left| {
        let pids: Vec<String> = left.iter().map(i32::to_string).collect();
        format!("processes {} still run in the lab's namespaces {} s after SIGKILL", pids.join(", "), END_WAIT.as_secs())
    })
}
