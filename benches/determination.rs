//! Determination speed (issue: annual report entry, target < 20 µs per report).
//! `cargo bench --bench determination` prints the median and p95 of batches.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a benchmark stops when its setup fails"
)]

use std::hint::black_box;
use std::time::Instant;

use kakari::domain::catalog::{Catalog, shipped};
use kakari::domain::determination::{Answers, determine, validate};
use serde_json::json;

fn document(i: i64) -> Answers {
    let v = json!({
        "1-1": 1, "1-2": i % 2, "1-3": 0, "1-4": [1 + i % 17, 6], "1-5": [2, 18, 23],
        "1-6": 1, "2イ-1": i % 8, "2イ-2": 0, "2イ-3": 4, "2イ-4": i % 5, "2イ-5": i % 40,
        "2イ-6": 0, "2イ-7": 3, "2イ-8": 0, "2ロ-1": i % 7, "2ロ-2": 0, "2ロ-3": 2, "2ロ-4": 0,
        "2ロ-5": 0, "2ロ-6": 1, "2ロ-7": 1, "2ハ-1": i % 6, "2ハ-2": 12, "2ハ-3": 30,
        "2ハ-4": 0, "2ハ-5": 2, "2ハ-6": 0, "2ニ-1": 2, "2ニ-2": 2, "2ニ-3": 1, "2ニ-4": 0,
        "2ニ-5": 4, "2ニ-6": ["特別養護老人ホーム さくら苑"], "2ニ-7": 1, "2ニ-8": 2,
    });
    v.as_object().cloned().unwrap_or_default()
}

fn measure(label: &str, docs: &[Answers], f: impl Fn(&Answers)) {
    let batch = docs.len();
    let mut per_report_ns: Vec<f64> = (0..50)
        .map(|_| {
            let start = Instant::now();
            for d in docs {
                f(d);
            }
            start.elapsed().as_nanos() as f64 / batch as f64
        })
        .collect();
    per_report_ns.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{label}: median {:.2} µs, p95 {:.2} µs per report (50 batches of {batch})",
        per_report_ns[25] / 1000.0,
        per_report_ns[47] / 1000.0
    );
}

fn main() {
    let catalog = match shipped(2025).map(Catalog::parse) {
        Some(Ok(c)) => c,
        _ => {
            eprintln!("the shipped FY2025 catalog does not load");
            std::process::exit(1);
        }
    };
    let docs: Vec<Answers> = (0..1_000).map(document).collect();
    let size = serde_json::to_string(&docs[0])
        .map(|s| s.len())
        .unwrap_or(0);
    println!("answers document: {size} bytes as JSON");
    measure("determine", &docs, |d| {
        black_box(determine(&catalog, black_box(d)));
    });
    measure("validate + determine", &docs, |d| {
        black_box(validate(&catalog, black_box(d)));
        black_box(determine(&catalog, black_box(d)));
    });
}
