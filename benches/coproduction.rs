//! `cargo bench --bench coproduction`: the projections' figures for
//! docs/PERFORMANCE.md.
//!
//! - rebuild of the model behind every projection from a log of about
//!   `BENCH_RECORDS` (default 1,000,000) records of demo history, records/s;
//! - incremental update: the cost per record of bringing the model up to
//!   date with the last 2,000 records, on a small log and on the big one
//!   (it must not grow with the log);
//! - building the whole report from the model;
//! - building a page of the organisation-wide projections, as the API
//!   answers `/v1/projections/all` (bounded, whatever the projects).

#![forbid(unsafe_code)]

use jointly::api::answers::{OrganisationProjection, Section};
use jointly::app::demo::write_history;
use jointly::app::fold::{catch_up, rebuild};
use jointly::coproduction::model::Model;
use jointly::coproduction::report::{MAX_OVERVIEW_PAGE, Overview, Report, Settings};
use jointly::ledger::Ledger;
use std::time::Instant;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    xs[xs.len() / 2]
}

/// Per-record microseconds to catch a model up over the last `tail` records.
fn incremental_cost(ledger: &Ledger, tail: u64) -> f64 {
    let size = ledger.head().size;
    let runs: Vec<f64> = (0..3)
        .map(|_| {
            // A model that has seen all but the tail: fold up to there.
            let mut model = Model::default();
            let mut partial = Model::default();
            let _ = &mut model;
            let page_end = size - tail;
            let mut next = 0;
            while next < page_end {
                let n = (page_end - next).min(4096) as usize;
                for ev in ledger.range(next, n).unwrap() {
                    let e = jointly::coproduction::read_event(&ev.record, ev.payload.as_ref())
                        .ok()
                        .flatten();
                    partial.apply(&ev.record, e);
                }
                next += n as u64;
            }
            let t = Instant::now();
            catch_up(ledger, &mut partial).unwrap();
            t.elapsed().as_secs_f64() * 1e6 / tail as f64
        })
        .collect();
    median(runs)
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let records: u64 = std::env::var("BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let tmp =
        tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| ".".into())).unwrap();

    // A small log first, for the incremental cost at small size.
    let (small, _) = Ledger::open(&tmp.path().join("small")).unwrap();
    write_history(&small, 400, 1, 2000).unwrap();
    let small_cost = incremental_cost(&small, 2000);

    // About 25 records a synthetic project.
    let (ledger, _) = Ledger::open(&tmp.path().join("big")).unwrap();
    let t = Instant::now();
    let (n, _) = write_history(&ledger, records / 25, 1, 5000).unwrap();
    println!(
        "wrote {n} records of demo history through the rules in {:.1} s ({:.0} records/s)",
        t.elapsed().as_secs_f64(),
        n as f64 / t.elapsed().as_secs_f64()
    );
    let runs: Vec<f64> = (0..3)
        .map(|_| {
            let t = Instant::now();
            let m = rebuild(&ledger).unwrap();
            assert_eq!(m.last_seq, Some(n - 1));
            t.elapsed().as_secs_f64()
        })
        .collect();
    let secs = median(runs);
    println!(
        "rebuild of every projection's model from {n} records (median of 3): {secs:.2} s, {:.0} records/s",
        n as f64 / secs
    );
    let big_cost = incremental_cost(&ledger, 2000);
    println!(
        "incremental update per record: {small_cost:.2} us at {} records, {big_cost:.2} us at {n} records (ratio {:.2})",
        small.head().size,
        big_cost / small_cost
    );
    let model = rebuild(&ledger).unwrap();
    let t = Instant::now();
    let report = Report::build(&model, None, Settings::today());
    let json = serde_json::to_vec(&report).unwrap();
    println!(
        "whole report from the model: {:.0} ms ({} projects, {} KB of JSON)",
        t.elapsed().as_secs_f64() * 1000.0,
        model.projects.len(),
        json.len() / 1024
    );
    let t = Instant::now();
    let overview = Overview::build(&model, None, None, MAX_OVERVIEW_PAGE, Settings::today());
    let page = serde_json::to_vec(&OrganisationProjection::of(overview, Section::All)).unwrap();
    println!(
        "a page of the organisation-wide projections (all sections, {MAX_OVERVIEW_PAGE} of {} projects, as /v1/projections/all answers): {:.0} ms, {} KB of JSON",
        model.projects.len(),
        t.elapsed().as_secs_f64() * 1000.0,
        page.len() / 1024
    );
}

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
