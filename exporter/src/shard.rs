//! Sharding: several exporters split the targets by a stable hash of the target name.
//!
//! Jump consistent hashing keeps most devices on the same shard when the shard count changes.

/// Which part of the targets this exporter polls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// All targets: one shard of one.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Validate flags: `index < count`, `count >= 1`.
    pub fn new(index: u32, count: u32) -> Result<Shard, String> {
        if count == 0 {
            return Err("--shard.count must be at least 1".into());
        }
        if index >= count {
            return Err(format!(
                "--shard.index {index} must be below --shard.count {count}"
            ));
        }
        Ok(Shard { index, count })
    }

    /// True when this shard owns the target named `name`.
    pub fn owns(&self, name: &str) -> bool {
        self.count <= 1 || jump_hash(fnv1a(name.as_bytes()), self.count) == self.index
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Lamping and Veach's jump consistent hash: a bucket in `0..buckets` for `key`.
fn jump_hash(mut key: u64, buckets: u32) -> u32 {
    let (mut b, mut j): (i64, i64) = (-1, 0);
    while j < i64::from(buckets) {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        j = ((b + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    b as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        (0..3000).map(|i| format!("Branch-{i:04}")).collect()
    }

    #[test]
    fn every_target_belongs_to_exactly_one_shard_and_shards_are_balanced() {
        let shards: Vec<Shard> = (0..3).map(|i| Shard::new(i, 3).unwrap()).collect();
        let mut per = [0usize; 3];
        for n in names() {
            let owners: Vec<u32> = shards
                .iter()
                .filter(|s| s.owns(&n))
                .map(|s| s.index)
                .collect();
            assert_eq!(owners.len(), 1, "{n}: {owners:?}");
            per[owners[0] as usize] += 1;
        }
        assert!(per.iter().all(|&c| (850..1150).contains(&c)), "{per:?}");
    }

    #[test]
    fn growing_the_shard_count_moves_few_targets() {
        let moved = names()
            .iter()
            .filter(|n| jump_hash(fnv1a(n.as_bytes()), 3) != jump_hash(fnv1a(n.as_bytes()), 4))
            .count();
        // Ideal is 1/4 of the targets; a modulo hash would move about 3/4.
        assert!(moved < 900, "{moved}");
    }

    #[test]
    fn flags_are_validated() {
        assert!(Shard::new(3, 3).is_err());
        assert!(Shard::new(0, 0).is_err());
        assert!(Shard::ALL.owns("anything"));
    }
}
