//! `nslab graph --hosts FILE SCRIPT`: the topology of a lab across machines, read when its
//! script ends and before teardown: this machine's part from the lab here, each other
//! machine's through its agent (`topology()` there, the same JSON shape), merged with the
//! links between machines the coordinator made (`lab::topology_merge`).

use crate::lab::inventory::LOCAL;
use crate::lab::machines::CallError;
use crate::lab::topology::Topology;
use crate::lab::topology_merge;
use crate::script::Session as ScriptSession;

/// Why the topology could not be read: a message and a hint.
pub type Unread = (String, Option<String>);

/// The whole lab's topology (this machine's only, when the lab spans no machines).
pub fn read(s: &mut ScriptSession) -> Result<Topology, Unread> {
    let local = s
        .lab
        .borrow_mut()
        .topology()
        .map_err(|e| (format!("cannot read the lab's topology: {e}"), crate::script::hints::hint(&e)))?;
    let Some(mut machines) = s.lab.machines() else { return Ok(local) };
    let mut parts = vec![(LOCAL.to_string(), local)];
    for (machine, _) in machines.remote() {
        let unread = |why: String| (format!("cannot read the lab's topology on machine {machine}: {why}"), None);
        let value = match machines.eval(&machine, "topology()", Vec::new()) {
            Ok(v) => v,
            Err(CallError::Failed(f)) => {
                return Err((format!("cannot read the lab's topology on machine {machine}: {}", f.message), f.hint))
            }
            Err(CallError::Lost(why)) => return Err(unread(why)),
        };
        let part: Topology = serde_json::from_value(value)
            .map_err(|e| unread(format!("its agent answered something else than a topology ({e})")))?;
        parts.push((machine, part));
    }
    Ok(topology_merge::merge(parts, &machines.cross))
}
