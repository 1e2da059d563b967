//! `--partition K/N`: runs the K-th of N shards of the suite, so a CI matrix spreads scenarios
//! over machines. A scenario's shard comes from a hash of its path as found (as cargo-nextest's
//! `hash:K/N`): the same on every machine and run, independent of the other files, so adding a
//! scenario moves no other one. Shards are disjoint and together are the whole suite.

use std::path::Path;

/// The K-th (1-based) of N shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    pub k: u64,
    pub n: u64,
}

impl Partition {
    /// "K/N" (or "hash:K/N"), with 1 <= K <= N.
    pub fn parse(text: &str) -> Result<Partition, String> {
        let body = text.strip_prefix("hash:").unwrap_or(text);
        let bad = || format!("{text:?} is not a partition: give K/N with 1 <= K <= N, like 1/3 (the first of 3 shards)");
        let (k, n) = body.split_once('/').ok_or_else(bad)?;
        let (k, n) = (k.trim().parse::<u64>().map_err(|_| bad())?, n.trim().parse::<u64>().map_err(|_| bad())?);
        if k == 0 || n == 0 || k > n {
            return Err(bad());
        }
        Ok(Partition { k, n })
    }

    /// Whether the scenario at `path` is in this shard.
    pub fn holds(&self, path: &Path) -> bool {
        fnv1a(path.to_string_lossy().as_bytes()) % self.n == self.k - 1
    }
}

/// FNV-1a, 64 bits: fixed by its definition, so shards never change with a Rust release
/// (std's hasher makes no such promise).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn parses_and_refuses() {
        assert_eq!(Partition::parse("2/3"), Ok(Partition { k: 2, n: 3 }));
        assert_eq!(Partition::parse("hash:1/1"), Ok(Partition { k: 1, n: 1 }));
        for bad in ["0/3", "4/3", "1/0", "3", "a/b", ""] {
            assert!(Partition::parse(bad).is_err(), "{bad}");
        }
    }

    /// Every path lands in exactly one shard, and the shards are not lopsided.
    #[test]
    fn shards_are_disjoint_and_cover_the_suite() {
        let paths: Vec<PathBuf> = (0..300).map(|i| PathBuf::from(format!("tests/scenarios/s{i}.rhai"))).collect();
        for n in 1..=5 {
            let mut sizes = vec![0; n as usize];
            for p in &paths {
                let owners: Vec<u64> = (1..=n).filter(|k| Partition { k: *k, n }.holds(p)).collect();
                assert_eq!(owners.len(), 1, "{} in {owners:?} of {n}", p.display());
                sizes[owners[0] as usize - 1] += 1;
            }
            assert!(sizes.iter().all(|s| *s >= 300 / n as usize / 2), "{n}: {sizes:?}");
        }
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c, "FNV-1a's published value for \"a\"");
    }
}
