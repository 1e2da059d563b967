//! A lab across machines, as its coordinator sees it: one agent per machine of the inventory,
//! reached through the machine's `via` command (`engine::channel`), and where each namespace
//! lives. The coordinator owns the whole lab: when it goes, its channels close, and every agent
//! tears its part down.
//!
//! The protocol is one JSON object per line, one answer per request, in order: `hello` opens
//! the agent's part of the lab, `eval` runs one step there, `end` tears it down (or keeps it).
//! `cancel` (no answer) stops the step running there, like Ctrl-C.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::inventory::{Inventory, Machine, LOCAL};
use super::teardown::TeardownReport;
use crate::engine::channel::{Channel, Received};

/// A request to an agent.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Request {
    /// Open the agent's part of lab `lab` on machine `machine`.
    Hello {
        /// The lab's name (its ledger's, there too).
        lab: String,
        /// What the inventory calls the machine.
        machine: String,
        /// The coordinator's nslab version: the agent's must be the same.
        version: String,
    },
    /// Evaluate `expr` with `args` bound to `__a0`, `__a1`, ...
    Eval {
        /// A Rhai expression (a call of one function, mostly).
        expr: String,
        /// Its arguments, as `script::wire` encodes them.
        args: Vec<Value>,
    },
    /// Stop the step running now (no answer).
    Cancel,
    /// Note where the part stands (a sub-test begins), to undo back to it.
    Checkpoint,
    /// Undo back to the last checkpoint (the sub-test ended); answered with `ended`.
    Undo,
    /// (Instead of hello) remove what lab `lab` left on this machine: `nslab down` or `clean`
    /// on the coordinator, for a lab kept or whose coordinator died.
    Down {
        /// The lab's name.
        lab: String,
    },
    /// (Instead of hello) the labs of this name standing on this machine, for `nslab ls`.
    Status {
        /// The lab's name.
        lab: String,
    },
    /// (Instead of hello) the topology of lab `lab`'s part standing on this machine, for
    /// `nslab graph LAB` on the coordinator: its JSON, or null when none of it is here.
    Topology {
        /// The lab's name.
        lab: String,
    },
    /// (Instead of hello, to an agent on the coordinator's own machine) guard the coordinator's
    /// own part: when this channel closes and process `pid` is gone, remove what its ledgers
    /// still list here (a coordinator killed with `kill -9`; a machine it lost), unless kept.
    Guard {
        /// The coordinator's pid.
        pid: i32,
        /// Its start time (clock ticks since boot), which tells it from a later process with the
        /// same pid.
        start: u64,
    },
    /// Tear the part down (or keep it) and exit.
    End {
        /// Keep the part standing (`--keep`) instead of tearing it down.
        keep: bool,
    },
}

/// An agent's answer.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    /// The step's value, as `script::wire` encodes it.
    Ok(Value),
    /// The step failed.
    Err(Failure),
    /// The answer to `end`.
    Ended {
        /// What the teardown removed there (None when kept).
        report: Option<TeardownReport>,
        /// The kept lab's name there.
        kept: Option<String>,
    },
}

/// A step that failed on an agent, as its script layer worded it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Failure {
    /// What went wrong, in the user's terms.
    pub message: String,
    /// What may help.
    pub hint: Option<String>,
    /// The failure's kind, as the script layer names it (`lab`, `argument`, `expectation`, ...).
    pub kind: String,
}

/// Asks one thing (`Down`, `Status`) of machine `name`'s agent, started with `via`.
pub fn ask_once(name: &str, via: &str, req: &Request, wait: Duration) -> Result<Reply, String> {
    let channel = Channel::start(via).map_err(|e| format!("machine {name} is unreachable (via `{via}`): {e}"))?;
    let mut agent = Agent { channel, broken: None };
    let answer = agent.ask(req, wait, &AtomicBool::new(false));
    let tail = agent.channel.stderr_tail();
    agent.channel.close(Duration::from_secs(5));
    answer.map_err(|why| {
        let said = if tail.is_empty() { String::new() } else { format!("; it said: {}", last_lines(&tail, 3)) };
        format!("machine {name} (via `{via}`): {why}{said}")
    })
}

/// The name of a lab's part on its other machines: the lab's name and its id here, so that
/// labs of the same name from two coordinators stay apart there (`nslab ls` shows it).
pub fn part_name(lab: &str, id: &str) -> String {
    let mut end = lab.len().min(super::validate::MAX_LAB_NAME - id.len() - 1);
    while !lab.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}-{id}", &lab[..end])
}

impl super::Lab {
    /// Records that machine `name`, reached by `via`, holds a part of this lab: `nslab down`
    /// and `clean` reach it from the ledger.
    /// `part`: the name of the lab's part there (None: this lab's own, `part_name`).
    pub fn record_machine(&mut self, name: &str, via: &str, part: Option<&str>) -> super::Result<()> {
        let ledger = self.ledger_mut()?;
        let part = part.map(String::from).unwrap_or_else(|| part_name(&ledger.header.name, &ledger.header.id));
        ledger.made(&super::ledger::Object::Machine { name: name.into(), via: via.into(), part })
    }
}

/// How long an agent may take to answer `hello` (an SSH connection included).
const HELLO_WAIT: Duration = Duration::from_secs(20);
/// How long an agent may take to tear its part down.
const END_WAIT: Duration = Duration::from_secs(120);
/// How often a wait for an answer looks at the lab's cancel flag.
const POLL: Duration = Duration::from_millis(50);

/// The agents of a lab, and where its namespaces live.
pub struct Machines {
    inventory: Inventory,
    agents: BTreeMap<String, Agent>,
    /// Namespace name -> machine, for those not on `local`.
    placed: HashMap<String, String>,
    cancel: Arc<AtomicBool>,
    /// Links across machines made so far (for `topology`).
    pub cross: Vec<CrossLink>,
    /// Where this lab's VNIs start (from its name: two labs rarely start alike, and a clash
    /// is retried with the next one).
    vni_base: u32,
    /// VNIs handed out so far.
    vnis: u32,
    /// The UDP port of this lab's VXLAN links.
    port: u16,
    /// Where notes for the user go (the command line sets it).
    notices: Option<Notices>,
    /// Each machine's underlay MTU, read at its first link across machines.
    underlay_mtus: HashMap<String, i64>,
    /// The guard of this machine's part (see `Request::Guard`): its channel closing, with this
    /// process gone, is its signal.
    guard: Option<Channel>,
    /// At each active checkpoint: where namespaces lived and how many links across machines
    /// there were.
    checkpoints: Vec<(HashMap<String, String>, usize)>,
    /// Set while a step that spans machines runs its own part here: the calls it makes act on
    /// this machine only.
    pub here_only: bool,
}

/// Where notes for the user go.
pub type Notices = Box<dyn Fn(&str)>;

/// The UDP ports VXLAN links across machines use: one per lab, from its name (the underlay's
/// firewall must let them through).
pub const PORTS: std::ops::RangeInclusive<u16> = 42000..=42099;

/// A link between namespaces on two machines: two VXLAN devices with the same VNI.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CrossLink {
    /// One end.
    pub a: End,
    /// The other end.
    pub b: End,
    /// The VXLAN id both ends use.
    pub vni: u32,
    /// Their UDP port.
    pub port: u16,
    /// Their MTU (the underlay's less the encapsulation).
    pub mtu: u32,
}

/// One end of a link across machines.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct End {
    /// The machine it is on.
    pub machine: String,
    /// Its namespace ("root" for the machine's own).
    pub ns: String,
    /// Its name there.
    pub link: String,
}

struct Agent {
    channel: Channel,
    /// Why it can no longer be used (it died, or answered nonsense).
    broken: Option<String>,
}

/// Why a request to an agent failed.
#[derive(Debug)]
pub enum CallError {
    /// The step failed there.
    Failed(Failure),
    /// The machine cannot be reached any more, or never answered: said in full.
    Lost(String),
}

impl Machines {
    /// Starts an agent on every machine of `inventory` (in parallel) and opens lab `lab` on
    /// each. A machine that cannot be reached is an error naming it; the agents already
    /// started are ended (they made nothing).
    pub fn connect(inventory: Inventory, lab: &str, cancel: Arc<AtomicBool>) -> Result<Machines, String> {
        let hello = |m: &Machine| -> Result<Agent, String> {
            let via = m.via.as_deref().expect("remote machines have a via");
            let unreachable = |why: String| format!("machine {} is unreachable (via `{via}`): {why}", m.name);
            let channel = Channel::start(via).map_err(|e| unreachable(e.to_string()))?;
            let mut agent = Agent { channel, broken: None };
            let req = Request::Hello { lab: lab.into(), machine: m.name.clone(), version: env!("CARGO_PKG_VERSION").into() };
            match agent.ask(&req, HELLO_WAIT, &AtomicBool::new(false)) {
                Ok(Reply::Ok(_)) => Ok(agent),
                Ok(Reply::Err(f)) => {
                    agent.channel.close(Duration::from_secs(2));
                    Err(format!("machine {} refused the lab: {}", m.name, f.message))
                }
                Ok(other) => {
                    agent.channel.close(Duration::from_secs(2));
                    Err(unreachable(format!("its agent answered {other:?} to hello")))
                }
                Err(why) => {
                    let tail = agent.channel.stderr_tail();
                    agent.channel.close(Duration::from_secs(2));
                    Err(unreachable(if tail.is_empty() { why } else { format!("{why}; it said: {tail}") }))
                }
            }
        };
        let machines: Vec<&Machine> = inventory.remote.values().collect();
        let results: Vec<Result<Agent, String>> = std::thread::scope(|s| {
            machines
                .iter()
                .map(|m| s.spawn(|| hello(m)))
                .collect::<Vec<_>>()
                .into_iter()
                .map(|h| h.join().expect("no panic"))
                .collect()
        });
        let mut agents = BTreeMap::new();
        let mut errors = Vec::new();
        for (m, r) in machines.iter().zip(results) {
            match r {
                Ok(a) => {
                    agents.insert(m.name.clone(), a);
                }
                Err(e) => errors.push(e),
            }
        }
        let hash = lab.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        let mut out = Machines {
            inventory,
            agents,
            placed: HashMap::new(),
            cancel,
            cross: Vec::new(),
            vni_base: 0x1000 + (hash % 0xf0_0000) as u32,
            vnis: 0,
            port: PORTS.start() + (hash >> 32) as u16 % (PORTS.end() - PORTS.start() + 1),
            notices: None,
            guard: None,
            underlay_mtus: HashMap::new(),
            here_only: false,
            checkpoints: Vec::new(),
        };
        if !errors.is_empty() {
            out.end(false);
            return Err(errors.join("\n"));
        }
        Ok(out)
    }

    /// The next VNI for a link across machines, and the lab's UDP port.
    pub fn next_vni(&mut self) -> (u32, u16) {
        let vni = self.vni_base + self.vnis % 0x0f_0000;
        self.vnis += 1;
        (vni, self.port)
    }

    /// Machine `machine`'s underlay MTU, if read already.
    pub fn underlay_mtu(&self, machine: &str) -> Option<i64> {
        self.underlay_mtus.get(machine).copied()
    }

    /// Notes machine `machine`'s underlay MTU.
    pub fn note_underlay_mtu(&mut self, machine: &str, mtu: i64) {
        self.underlay_mtus.insert(machine.into(), mtu);
    }

    /// Sends notes for the user to `sink`.
    pub fn set_notices(&mut self, sink: Notices) {
        self.notices = Some(sink);
    }

    /// A note for the user.
    pub fn notice(&self, text: &str) {
        if let Some(sink) = &self.notices {
            sink(text);
        }
    }

    /// Starts the guard of this machine's part (this process's labs): `nslab agent` run here by
    /// `program`, which removes that part if this process ends without doing so.
    pub fn guard(&mut self, program: &str) -> Result<(), String> {
        let channel = Channel::start(program).map_err(|e| format!("cannot start the guard of this machine's part: {e}"))?;
        let mut agent = Agent { channel, broken: None };
        let pid = std::process::id() as i32;
        let start = crate::engine::spawn::process_start(pid).unwrap_or(0);
        let req = Request::Guard { pid, start };
        match agent.ask(&req, HELLO_WAIT, &AtomicBool::new(false)) {
            Ok(Reply::Ok(_)) => {
                self.guard = Some(agent.channel);
                Ok(())
            }
            other => {
                agent.channel.close(Duration::from_secs(2));
                Err(format!("the guard of this machine's part did not start: {other:?}"))
            }
        }
    }

    /// The machines other than `local`, with their via commands.
    pub fn remote(&self) -> Vec<(String, String)> {
        self.inventory.remote.values().map(|m| (m.name.clone(), m.via.clone().unwrap_or_default())).collect()
    }

    /// The inventory.
    pub fn inventory(&self) -> &Inventory {
        &self.inventory
    }

    /// The machine namespace `name` lives on (`local` unless placed elsewhere).
    pub fn machine_of(&self, name: &str) -> &str {
        self.placed.get(name).map(String::as_str).unwrap_or(LOCAL)
    }

    /// Notes that namespace `name` lives on `machine`.
    pub fn place(&mut self, name: &str, machine: &str) {
        if machine == LOCAL {
            self.placed.remove(name);
        } else {
            self.placed.insert(name.into(), machine.into());
        }
    }

    /// Forgets where `name` lived (it was deleted).
    pub fn forget(&mut self, name: &str) {
        self.placed.remove(name);
    }

    /// Runs `expr` with `args` on `machine`'s agent.
    pub fn eval(&mut self, machine: &str, expr: &str, args: Vec<Value>) -> Result<Value, CallError> {
        let cancel = self.cancel.clone();
        let agent = self.agents.get_mut(machine).ok_or_else(|| CallError::Lost(format!("no machine {machine} in this lab")))?;
        if let Some(why) = &agent.broken {
            return Err(CallError::Lost(format!("machine {machine} is lost: {why}")));
        }
        let req = Request::Eval { expr: expr.into(), args };
        match agent.ask(&req, Duration::MAX, &cancel) {
            Ok(Reply::Ok(v)) => Ok(v),
            Ok(Reply::Err(f)) => Err(CallError::Failed(f)),
            Ok(other) => Err(CallError::Lost(agent.lose(format!("its agent answered {other:?}")))),
            Err(why) => Err(CallError::Lost(format!("machine {machine} is lost: {}", agent.lose(why)))),
        }
    }

    /// A sub-test begins: every machine notes where its part stands.
    pub fn checkpoint(&mut self) -> Result<(), String> {
        for (name, agent) in &mut self.agents {
            match agent.ask(&Request::Checkpoint, Duration::from_secs(60), &AtomicBool::new(false)) {
                Ok(Reply::Ok(_)) => {}
                Ok(Reply::Err(f)) => return Err(format!("on {name}: {}", f.message)),
                Ok(other) => return Err(format!("machine {name} answered {other:?} to a checkpoint")),
                Err(why) => return Err(format!("machine {name} is lost: {why}")),
            }
        }
        self.checkpoints.push((self.placed.clone(), self.cross.len()));
        Ok(())
    }

    /// The sub-test ended: every machine undoes back to the checkpoint; what they removed.
    pub fn undo(&mut self) -> TeardownReport {
        let mut report = TeardownReport::default();
        for (name, agent) in &mut self.agents {
            match agent.ask(&Request::Undo, Duration::from_secs(120), &AtomicBool::new(false)) {
                Ok(Reply::Ended { report: Some(part), .. }) => report.merge(part.on_machine(name)),
                Ok(Reply::Err(f)) => report.failures.push(format!("on {name}: {}", f.message)),
                Ok(other) => report.failures.push(format!("machine {name} answered {other:?} to undo")),
                Err(why) => report.failures.push(format!("machine {name} is lost: {why}")),
            }
        }
        if let Some((placed, cross)) = self.checkpoints.pop() {
            self.placed = placed;
            self.cross.truncate(cross);
        }
        report
    }

    /// Ends every agent's part of the lab (kept with `keep`), in parallel, and returns what
    /// each reported, by machine.
    pub fn end(&mut self, keep: bool) -> Vec<(String, Result<TeardownReport, String>)> {
        self.begin_end(keep);
        self.finish_end()
    }

    /// Asks every agent to end its part (kept with `keep`), without waiting: see `finish_end`.
    pub fn begin_end(&mut self, keep: bool) {
        let line = serde_json::to_string(&Request::End { keep }).expect("serializes");
        for agent in self.agents.values_mut() {
            if agent.broken.is_none() {
                if let Err(e) = agent.channel.send(&line) {
                    agent.broken = Some(format!("cannot write to its agent: {e}"));
                }
            }
        }
    }

    /// Waits for the agents asked by `begin_end` and returns what each reported, by machine.
    pub fn finish_end(&mut self) -> Vec<(String, Result<TeardownReport, String>)> {
        // The guard goes too: it waits for this process to end, then finds nothing to do (or a
        // lab kept on purpose, which it leaves).
        if let Some(guard) = self.guard.take() {
            guard.release();
        }
        let agents = std::mem::take(&mut self.agents);
        std::thread::scope(|s| {
            let handles: Vec<_> = agents
                .into_iter()
                .map(|(name, mut agent)| {
                    s.spawn(move || {
                        let result = if let Some(why) = agent.broken.take() {
                            Err(why)
                        } else {
                            match agent.answer(END_WAIT, &AtomicBool::new(false)) {
                                Ok(Reply::Ended { report, .. }) => Ok(report.unwrap_or_default()),
                                Ok(other) => Err(format!("its agent answered {other:?} to end")),
                                Err(why) => Err(why),
                            }
                        };
                        agent.channel.close(Duration::from_secs(5));
                        (name, result)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("no panic")).collect()
        })
    }
}

impl Agent {
    /// Sends `req` and waits for the answer; a set `cancel` is passed on (once) while waiting.
    fn ask(&mut self, req: &Request, wait: Duration, cancel: &AtomicBool) -> Result<Reply, String> {
        let line = serde_json::to_string(req).expect("requests serialize");
        self.channel.send(&line).map_err(|e| format!("cannot write to its agent: {e}"))?;
        self.answer(wait, cancel)
    }

    /// Waits for the answer to the request just sent.
    fn answer(&mut self, wait: Duration, cancel: &AtomicBool) -> Result<Reply, String> {
        let start = Instant::now();
        let mut cancelled = false;
        loop {
            if !cancelled && cancel.load(Ordering::Relaxed) {
                cancelled = true;
                let _ = self.channel.send(&serde_json::to_string(&Request::Cancel).expect("serializes"));
            }
            match self.channel.recv(POLL) {
                Received::Line(line) => {
                    return serde_json::from_str(&line)
                        .map_err(|e| format!("its agent said something else than an answer ({e}): {line:.200}"))
                }
                Received::Timeout if start.elapsed() < wait => {}
                Received::Timeout => return Err(format!("no answer in {} s", wait.as_secs())),
                Received::Closed(why) => {
                    let ended = self.channel.ended().map(|s| format!(" ({s})")).unwrap_or_default();
                    let tail = self.channel.stderr_tail();
                    let said = if tail.is_empty() { String::new() } else { format!(": {}", last_lines(&tail, 3)) };
                    return Err(format!("its agent is gone{ended}{}{said}", why.map(|w| format!(" ({w})")).unwrap_or_default()));
                }
            }
        }
    }

    /// Marks the agent unusable for `why`, and returns `why`.
    fn lose(&mut self, why: String) -> String {
        self.broken = Some(why.clone());
        why
    }
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join(" / ")
}
