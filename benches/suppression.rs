//! Suppression speed (issue 16, target < 1 s): linked tables of 2,000 municipalities in
//! 200 保健所 and 20 二次医療圏 (groupings that cross), 10 count columns, with many
//! counts from 1 to 9 and zeros, and institutions' own masked values under a quarter of
//! the cells. `cargo bench --bench suppression` prints the time of
//! each run of all ten columns, the median and the complements added.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a benchmark stops when its setup fails"
)]

use std::time::Instant;

use kakari::domain::suppression::{Leaf, Mask, MaskedOwn, SumThresholds, linked_cells, suppress};
use rand::{Rng, SeedableRng};

const MUNICIPALITIES: usize = 2_000;
const AREAS: usize = 200;
const MEDICAL_AREAS: usize = 20;
const COLUMNS: usize = 10;

fn column(rng: &mut rand_chacha::ChaCha8Rng) -> Vec<Leaf> {
    (0..MUNICIPALITIES)
        .map(|m| {
            let row = m % AREAS;
            // Most municipalities of a 保健所 share its 二次医療圏; one in eight crosses.
            let column = if rng.random_range(0..8) == 0 {
                rng.random_range(0..MEDICAL_AREAS)
            } else {
                row % MEDICAL_AREAS
            };
            let value = match rng.random_range(0..10) {
                0..=2 => 0,
                3..=5 => rng.random_range(1..10),
                _ => rng.random_range(10..500),
            };
            // Under one cell in four, one or two institutions whose own rows show
            // their value masked (1–9): the sums above must not give them away.
            let mut masked_own = MaskedOwn::default();
            if value > 0 && rng.random_range(0..4) == 0 {
                for _ in 0..rng.random_range(1..3) {
                    masked_own.count += 1;
                    masked_own.sum += rng.random_range(1..10);
                }
            }
            let value = value.max(masked_own.sum);
            Leaf {
                row,
                column,
                value,
                threshold: if rng.random_range(0..3) == 0 { 20 } else { 10 },
                always_hidden: rng.random_range(0..40) == 0,
                institutions: 5,
                masked_own,
            }
        })
        .collect()
}

fn main() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(16);
    let columns: Vec<Vec<Leaf>> = (0..COLUMNS).map(|_| column(&mut rng)).collect();
    let mut times = Vec::new();
    let mut hidden = (0, 0);
    for _ in 0..5 {
        let start = Instant::now();
        hidden = (0, 0);
        for leaves in &columns {
            let cells = linked_cells(AREAS, MEDICAL_AREAS, leaves, SumThresholds::all(10), 0, 9);
            let s = suppress(AREAS, MEDICAL_AREAS, &cells);
            hidden.0 += s.masks.iter().filter(|m| **m == Mask::Primary).count();
            hidden.1 += s.complements;
        }
        times.push(start.elapsed().as_secs_f64());
    }
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    println!(
        "suppression, {MUNICIPALITIES} municipalities in {AREAS} areas and {MEDICAL_AREAS} medical areas × {COLUMNS} columns: runs {:?} s, median {:.3} s; {} primary cells, {} complements",
        times.iter().map(|t| format!("{t:.3}")).collect::<Vec<_>>(),
        sorted[sorted.len() / 2],
        hidden.0,
        hidden.1
    );
}
