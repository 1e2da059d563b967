//! Background processes in scripts: `spawn_in(ns, cmd)` returns a `Proc` handle with `.pid`,
//! `.running`, `.stdout`/`.stderr` (output so far) and the functions `kill`, `wait`, `output`,
//! also usable as methods (`p.kill()`). The lab ends every process it started at teardown.

use rhai::Token;

use super::bindings::{Registrar, SharedLab};
use crate::lab::Ns;

/// A process started by `spawn_in`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Proc {
    pub pid: i32,
    pub argv: Vec<String>,
    pub ns: Ns,
    /// The machine it runs on, for a lab across machines; None: this one.
    pub on: Option<String>,
}

impl std::fmt::Display for Proc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "process {} ({}) in {}", self.pid, self.argv.join(" "), self.ns)
    }
}

/// The `Proc` type, and `spawn` as a name scripts can use.
pub fn register_types(reg: &mut Registrar, lab: &SharedLab) {
    // Rhai reserves `spawn` as a keyword for a future feature; nslab's language names it.
    #[allow(deprecated)] // "not deprecated, but considered volatile" (rhai's own words)
    // The engine has one token mapper: it also lets a script start with a byte-order mark.
    reg.engine().on_parse_token(|token, pos, _| match token {
        Token::Reserved(s) if s.as_str() == "spawn" => Token::Identifier(s),
        other => super::diag::bom_token(other, pos),
    });
    let l = lab.clone();
    reg.engine()
        .register_type_with_name::<Proc>("Proc")
        .register_get("pid", |p: &mut Proc| p.pid as i64)
        .register_get("cmd", |p: &mut Proc| p.argv.join(" "))
        .register_get("running", move |p: &mut Proc| match &p.on {
            Some(m) => super::remote::on_handle(&l, m, "__a0.running", rhai::Dynamic::from(p.clone()))
                .ok()
                .and_then(|v| v.as_bool().ok())
                .unwrap_or(false),
            None => l.borrow_mut().proc_running(p.pid).unwrap_or(false),
        })
        .register_fn("to_string", |p: &mut Proc| p.to_string())
        .register_fn("to_debug", |p: &mut Proc| p.to_string());
    for (name, stdout) in [("stdout", true), ("stderr", false)] {
        let l = lab.clone();
        reg.engine().register_get(name, move |p: &mut Proc| {
            if let Some(m) = &p.on {
                let v = super::remote::on_handle(&l, m, &format!("__a0.{name}"), rhai::Dynamic::from(p.clone()));
                return v.ok().and_then(|v| v.into_string().ok()).unwrap_or_default();
            }
            let (out, err) = l.borrow_mut().proc_output_so_far(p.pid).unwrap_or_default();
            if stdout {
                out
            } else {
                err
            }
        });
    }
}
