//! The machines a lab may span: the `--hosts` inventory (TOML).
//!
//! ```toml
//! [hosts.local]                     # the machine running the script
//! address = "192.168.50.1"          # its underlay address
//! dev = "eth0"                      # its underlay device
//! [hosts.m2]
//! address = "192.168.50.2"
//! dev = "eth0"
//! via = "ssh root@m2 nslab agent"   # a command whose stdin/stdout reach an nslab agent there
//! ```

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use serde::Deserialize;

/// The name of the machine running the script.
pub const LOCAL: &str = "local";

/// One machine of the inventory.
#[derive(Debug, Clone, PartialEq)]
pub struct Machine {
    /// What scripts call it (`host("m2")`, `#{on: "m2"}`).
    pub name: String,
    /// Its address on the underlay: the remote end of the VXLAN links that reach it.
    pub address: IpAddr,
    /// Its underlay device, where the VXLAN links' packets leave.
    pub dev: String,
    /// The command that starts `nslab agent` there (None for `local`).
    pub via: Option<String>,
}

/// The machines of a lab: `local` and the others, by name.
#[derive(Debug, Clone, PartialEq)]
pub struct Inventory {
    /// The machine running the script.
    pub local: Machine,
    /// The other machines, by name (sorted).
    pub remote: BTreeMap<String, Machine>,
}

/// Why an inventory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// The file cannot be read.
    #[error("cannot read the inventory {path}: {cause}")]
    Read {
        /// The file.
        path: String,
        /// What the system said.
        cause: std::io::Error,
    },
    /// The file says something wrong.
    #[error("the inventory {path} is not valid: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong, naming the key.
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    hosts: BTreeMap<String, RawHost>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHost {
    address: String,
    dev: String,
    via: Option<String>,
}

impl Inventory {
    /// Reads and checks the inventory at `path`.
    pub fn load(path: &Path) -> Result<Inventory, InventoryError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|cause| InventoryError::Read { path: shown.clone(), cause })?;
        Inventory::parse(&text).map_err(|message| InventoryError::Invalid { path: shown, message })
    }

    /// Parses and checks an inventory's text.
    pub fn parse(text: &str) -> Result<Inventory, String> {
        let raw: RawFile = toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())?;
        let mut local = None;
        let mut remote = BTreeMap::new();
        for (name, host) in raw.hosts {
            machine_name(&name)?;
            let address: IpAddr =
                host.address.parse().map_err(|_| format!("hosts.{name}.address {:?} is not an IP address", host.address))?;
            if address.is_unspecified() || address.is_multicast() || address.is_loopback() {
                return Err(format!("hosts.{name}.address {address} is not a unicast address other machines can reach"));
            }
            super::validate::link_name(&host.dev).map_err(|e| format!("hosts.{name}.dev: {e}"))?;
            let via = match (name.as_str(), host.via) {
                (LOCAL, Some(_)) => return Err("hosts.local is the machine running the script: it has no via".into()),
                (LOCAL, None) => None,
                (_, Some(v)) if v.trim().is_empty() => return Err(format!("hosts.{name}.via is empty")),
                (_, Some(v)) => Some(v),
                (_, None) => Some(format!("ssh {name} nslab agent")),
            };
            let m = Machine { name: name.clone(), address, dev: host.dev, via };
            if name == LOCAL {
                local = Some(m);
            } else {
                remote.insert(name, m);
            }
        }
        let local = local.ok_or("it has no [hosts.local] (the underlay address and device of the machine running the script)")?;
        let mut seen = BTreeMap::new();
        for m in std::iter::once(&local).chain(remote.values()) {
            if m.address.is_ipv4() != local.address.is_ipv4() {
                return Err(format!(
                    "hosts.{}.address {} is not of the same family as hosts.local's {}",
                    m.name, m.address, local.address
                ));
            }
            if let Some(other) = seen.insert(m.address, &m.name) {
                return Err(format!("hosts.{other} and hosts.{} have the same address {}", m.name, m.address));
            }
        }
        Ok(Inventory { local, remote })
    }

    /// The machine called `name` (`local` included).
    pub fn machine(&self, name: &str) -> Option<&Machine> {
        if name == LOCAL {
            Some(&self.local)
        } else {
            self.remote.get(name)
        }
    }

    /// Every machine's name, `local` first.
    pub fn names(&self) -> Vec<&str> {
        std::iter::once(LOCAL).chain(self.remote.keys().map(String::as_str)).collect()
    }
}

/// A machine's name: what `host("m2")` and `#{on: "m2"}` say.
pub fn machine_name(name: &str) -> Result<(), String> {
    let fine = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if fine {
        Ok(())
    } else {
        Err(format!("the machine name {name:?} must be 1 to 64 letters, digits, '-', '_' or '.'"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[hosts.local]
address = "10.200.0.1"
dev = "eth0"
[hosts.m2]
address = "10.200.0.2"
dev = "eth0"
via = "nsenter -t 42 -n -m nslab agent"
[hosts.m3]
address = "10.200.0.3"
dev = "ens3"
"#;

    #[test]
    fn a_good_inventory_names_its_machines_and_defaults_via_to_ssh() {
        let inv = Inventory::parse(GOOD).unwrap();
        assert_eq!(inv.names(), ["local", "m2", "m3"]);
        assert_eq!(inv.local.address.to_string(), "10.200.0.1");
        assert_eq!(inv.remote["m2"].via.as_deref(), Some("nsenter -t 42 -n -m nslab agent"));
        assert_eq!(inv.remote["m3"].via.as_deref(), Some("ssh m3 nslab agent"));
        assert_eq!(inv.machine("m3").unwrap().dev, "ens3");
        assert!(inv.machine("m4").is_none());
    }

    #[test]
    fn bad_inventories_say_what_is_wrong() {
        let bad = |text: &str, says: &str| {
            let e = Inventory::parse(text).unwrap_err();
            assert!(e.contains(says), "{e:?} should say {says:?}");
        };
        bad("[hosts.m2]\naddress = \"10.0.0.2\"\ndev = \"eth0\"\n", "no [hosts.local]");
        bad("[hosts.local]\naddress = \"10.0.0.300\"\ndev = \"eth0\"\n", "is not an IP address");
        bad("[hosts.local]\naddress = \"10.0.0.1\"\ndev = \"a-name-far-too-long\"\n", "hosts.local.dev");
        bad("[hosts.local]\naddress = \"10.0.0.1\"\ndev = \"eth0\"\nvia = \"ssh x\"\n", "has no via");
        bad("[hosts.local]\naddress = \"10.0.0.1\"\ndev = \"eth0\"\nport = 3\n", "unknown field `port`");
        bad(
            "[hosts.local]\naddress = \"10.0.0.1\"\ndev = \"eth0\"\n[hosts.m2]\naddress = \"10.0.0.1\"\ndev = \"eth0\"\n",
            "the same address",
        );
        bad(
            "[hosts.local]\naddress = \"10.0.0.1\"\ndev = \"eth0\"\n[hosts.m2]\naddress = \"fd00::2\"\ndev = \"eth0\"\n",
            "same family",
        );
        bad("[hosts.local]\naddress = \"127.0.0.1\"\ndev = \"eth0\"\n", "not a unicast address");
        bad("[hosts.\"a b\"]\naddress = \"10.0.0.1\"\ndev = \"eth0\"\n", "machine name");
        bad("[hosts.local]\naddress = \"10.0.0.1\"\ndev = \"eth0\"\n[hosts.m2]\naddress = \"10.0.0.2\"\ndev = \"eth0\"\nvia = \" \"\n", "via is empty");
    }
}
