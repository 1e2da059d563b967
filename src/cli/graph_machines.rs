//! `nslab graph --hosts FILE SCRIPT`: the topology of a lab across machines, read when its
//! script ends and before teardown: this machine's part from the lab here, each other
//! machine's through its agent (`topology()` there, the same JSON shape), merged with the
//! links between machines the coordinator made (`lab::topology_merge`). A lab left standing
//! across machines (`run --hosts FILE --keep`) is read the same way, each other machine's part
//! asked of an agent started for that alone (`nslab graph LAB`).

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::lab::inventory::LOCAL;
use crate::lab::ledger::{self, Record};
use crate::lab::machines::{CallError, Failure, Reply, Request};
use crate::lab::topology::{Scope, Topology};
use crate::lab::topology_merge;
use crate::lab::{Lab, LabError, LabOptions};
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

/// Reads the namespaces a standing lab's ledger lists, here, through a lab that makes nothing.
pub fn read_standing(rec: &Record) -> Result<Topology, Unread> {
    let unread = |e: LabError| (format!("cannot read lab {}: {e}", rec.header.name), crate::script::hints::hint(&e));
    let mut reader = Lab::new(LabOptions::new(rec.header.name.clone())).map_err(unread)?;
    let read = reader.read_topology(&Scope::of_record(rec));
    let _ = reader.teardown();
    read.map_err(unread)
}

/// How long a machine may take to read its part of a standing lab.
const TOPOLOGY_WAIT: Duration = Duration::from_secs(30);

/// A standing lab across machines (`run --hosts FILE --keep`): `local` (this machine's part,
/// read here) and the parts its ledger's other machines hold, asked of their agents, merged.
/// The links between machines are found from the VXLAN devices' settings (the coordinator
/// that made them is gone).
pub fn with_other_machines(rec: &Record, local: Topology) -> Result<Topology, Unread> {
    let lab = rec.header.name.clone();
    // (Each asked by the lab's part name there: see `machines::part_name`.)
    let answers = super::labs_machines::ask_every(rec, |lab| Request::Topology { lab }, TOPOLOGY_WAIT);
    let mut parts = vec![(LOCAL.to_string(), local)];
    for (machine, answer) in answers {
        let unread = |why: String| {
            (
                format!("cannot read lab {lab}'s part on machine {machine}: {why}"),
                Some("`nslab ls` says what stands on each machine".into()),
            )
        };
        match answer {
            Ok(Reply::Ok(Value::Null)) => {}
            Ok(Reply::Ok(v)) => {
                let part = serde_json::from_value(v)
                    .map_err(|e| unread(format!("its agent answered something else than a topology ({e})")))?;
                parts.push((machine, part));
            }
            Ok(Reply::Err(f)) => return Err(unread(f.message)),
            Ok(other) => return Err(unread(format!("its agent answered {other:?}"))),
            Err(e) => return Err(unread(e)),
        }
    }
    let cross = topology_merge::links_between(&parts);
    Ok(topology_merge::merge(parts, &cross))
}

/// On an agent: the topology of lab `lab`'s part standing here (null when none is).
pub fn topology_part(lab: &str) -> Reply {
    let fail = |message: String| Reply::Err(Failure { message, hint: None, kind: "lab".into() });
    let scan = ledger::scan(Path::new(ledger::LEDGER_DIR));
    let found: Vec<&Record> = scan.records.iter().filter(|r| r.header.name == lab).collect();
    let rec = match found.as_slice() {
        [] => return Reply::Ok(Value::Null),
        [rec] => *rec,
        many => {
            let ids: Vec<&str> = many.iter().map(|r| r.header.id.as_str()).collect();
            return fail(format!("{} labs named {lab} stand here (ids {})", many.len(), ids.join(", ")));
        }
    };
    if !rec.trusted() {
        return fail(format!("the ledger {} is damaged: it is not read", rec.path.display()));
    }
    match read_standing(rec) {
        Ok(t) => Reply::Ok(serde_json::to_value(&t).expect("a topology serializes")),
        Err((message, _)) => fail(message),
    }
}
