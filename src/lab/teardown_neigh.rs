//! Undoing neighbour and forwarding entries the lab added, and putting back addresses it
//! flushed, at teardown (see `teardown.rs`): each only while it is provably as the lab left it.

use nix::errno::Errno;

use super::fdb::{fdb_record_spec, fdb_still_there};
use super::ledger::Object;
use crate::engine::neigh::{NUD_NOARP, NUD_PERMANENT};
use crate::engine::netlink::Conn;
use crate::engine::EngineError;

/// What became of one object (teardown's `Outcome`).
pub(super) enum Undo {
    Done,
    Absent,
    Left(String),
}

/// The link by ifindex, if it still has the recorded name.
async fn same_link(conn: &Conn, index: u32, name: &str) -> Result<Result<(), Undo>, EngineError> {
    Ok(match conn.link_by_index(index).await? {
        Some(l) if l.name == name => Ok(()),
        Some(l) => Err(Undo::Left(format!("ifindex {index} is now {:?}, another link: left as is", l.name))),
        None => Err(Undo::Absent),
    })
}

pub(super) async fn undo(conn: &Conn, obj: &Object) -> Result<Undo, EngineError> {
    match obj {
        Object::Neigh { link, index, ip, mac, state, proxy, .. } => {
            if let Err(u) = same_link(conn, *index, link).await? {
                return Ok(u);
            }
            let Ok(ip) = ip.parse() else { return Ok(Undo::Absent) };
            let Some(e) = conn.neigh_get(*index, ip, *proxy).await? else { return Ok(Undo::Absent) };
            // A set state (permanent, noarp) must still be that; a dynamic one may have moved on
            // (reachable -> stale -> ...), but not to another MAC or to a state someone set.
            let set = |s: u16| s & (NUD_PERMANENT | NUD_NOARP);
            if !*proxy && (e.mac != *mac || set(e.state) != set(*state)) {
                return Ok(Undo::Left(format!(
                    "it is now {} at {:?}, not the lab's entry: left as is",
                    crate::engine::neigh::nud_name(e.state),
                    e.mac
                )));
            }
            match conn.neigh_del(*index, ip, *proxy).await {
                Ok(()) => Ok(Undo::Done),
                Err(e) if e.code() == Some(Errno::ENOENT) => Ok(Undo::Absent),
                Err(e) => Err(e),
            }
        }
        Object::Fdb { link, index, .. } => {
            if let Err(u) = same_link(conn, *index, link).await? {
                return Ok(u);
            }
            let Some(spec) = fdb_record_spec(obj) else { return Ok(Undo::Absent) };
            if !fdb_still_there(&conn.fdb_dump().await?, &spec) {
                return Ok(Undo::Absent);
            }
            match conn.fdb_del(&spec).await {
                Ok(()) => Ok(Undo::Done),
                Err(e) if matches!(e.code(), Some(Errno::ENOENT | Errno::ENXIO)) => Ok(Undo::Absent),
                Err(e) => Err(e),
            }
        }
        Object::Flushed { link, .. } => {
            let Some((index, spec)) = super::addr_options::restore_spec(obj) else { return Ok(Undo::Absent) };
            if let Err(u) = same_link(conn, index, link).await? {
                return Ok(match u {
                    Undo::Absent => Undo::Left("its link is gone: nothing to put it back on".into()),
                    other => other,
                });
            }
            let ip = spec.ip.expect("restore_spec sets it");
            if conn.addr_details().await?.iter().any(|a| a.index == index && a.ip == ip && a.prefix == spec.prefix) {
                // Never flushed (killed before the delete), or put back by someone already.
                return Ok(Undo::Absent);
            }
            match conn.add_addr_spec(index, &spec).await {
                Ok(()) => Ok(Undo::Done),
                Err(e) if e.code() == Some(Errno::EEXIST) => Ok(Undo::Absent),
                Err(e) => Err(e),
            }
        }
        _ => Ok(Undo::Absent),
    }
}
