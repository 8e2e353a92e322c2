//! Times the signal detectors on typical 10-turn conversations.
//!
//! ```text
//! cargo run --release -p baton-core --example bench-signals
//! ```
//!
//! Reports the time of `SignalEngine::compute` for the last customer turn of a 10-turn
//! conversation (p50, p99, mean), and the throughput of `SignalEngine::replay` (every
//! customer turn judged) on one thread and on all available cores.

use std::time::Instant;

use baton_core::signals::{SignalEngine, Turn};

fn conversations() -> Vec<Vec<Turn>> {
    let scripts: [[&str; 10]; 4] = [
        [
            "Hi, I can't find where to export my invoices",
            "You can export invoices from Billing > Invoices, then click Export CSV.",
            "I don't see an Export button there",
            "The Export button appears for workspace admins. Are you an admin?",
            "yes I am the admin",
            "Please try reloading the page; the button is at the top right of the list.",
            "Still nothing. This is the third time I look for it!!",
            "I'm sorry about that. You can also export through the API with GET /invoices.",
            "I don't want the API. Can I just talk to a person?",
            "Of course, I'll connect you with our billing team.",
        ],
        [
            "Our Slack integration stopped posting messages yesterday",
            "Try reconnecting Slack under Settings > Integrations.",
            "Reconnected, still no messages in the channel",
            "Check that the Baton app is invited to the channel.",
            "It is invited. Nothing arrives.",
            "Please check that the events you want are enabled in the integration settings.",
            "They are enabled. Same problem.",
            "Try removing and adding the integration again.",
            "ok that worked, thanks!",
            "Great, glad it works now!",
        ],
        [
            "You charged my card twice this month",
            "I'm sorry to hear that. Duplicate charges are refunded within 5 business days.",
            "I want the money back today, this is unacceptable",
            "I understand. Refunds are processed by our billing team.",
            "Then escalate this now please",
            "I'm passing this to the billing team right away.",
            "how long will it take?",
            "Usually within one business day.",
            "ok. And can you confirm my plan stays the same?",
            "Yes, your plan stays the same.",
        ],
        [
            "how do I add a new user to my team?",
            "Go to Settings > Members and click Invite.",
            "Where is settings?",
            "Click your avatar at the top right, then Settings.",
            "found it, thanks",
            "You're welcome! Anything else?",
            "can I make them an admin too?",
            "Yes: open the member's menu and choose Make admin.",
            "perfect, done",
            "Great!",
        ],
    ];
    scripts
        .iter()
        .map(|script| {
            script
                .iter()
                .enumerate()
                .map(|(i, text)| {
                    if i % 2 == 0 {
                        Turn::customer(*text)
                    } else {
                        Turn::ai(*text).with_articles([format!("kb-{}", i % 3)])
                    }
                })
                .collect()
        })
        .collect()
}

fn main() {
    let started = Instant::now();
    let engine = SignalEngine::default();
    println!(
        "engine built in {:.1} ms (built-in taxonomy)",
        started.elapsed().as_secs_f64() * 1000.0
    );
    let convs = conversations();

    // One call per measurement: the last customer turn of a 10-turn conversation (turn 9).
    let mut times = Vec::new();
    for round in 0..20_000 {
        let conv = &convs[round % convs.len()];
        let prefix = &conv[..9];
        let t = Instant::now();
        let s = engine.compute(prefix);
        times.push(t.elapsed().as_nanos() as f64 / 1000.0);
        std::hint::black_box(s);
    }
    times.sort_by(f64::total_cmp);
    let pct = |p: f64| times[((times.len() as f64 - 1.0) * p) as usize];
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    println!(
        "compute, last customer turn of a 10-turn conversation: p50 {:.1} µs, p99 {:.1} µs, mean {:.1} µs",
        pct(0.5),
        pct(0.99),
        mean
    );

    // Replay: every customer turn of each conversation, per-turn work reused.
    let rounds = 5_000;
    let t = Instant::now();
    let mut turns = 0usize;
    for round in 0..rounds {
        let r = engine.replay(&convs[round % convs.len()]);
        turns += r.len();
        std::hint::black_box(r);
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "replay, 1 thread: {:.0} customer turns/s ({:.1} µs per turn)",
        turns as f64 / secs,
        secs * 1e6 / turns as f64
    );

    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let t = Instant::now();
    let total: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|k| {
                let engine = &engine;
                let convs = &convs;
                scope.spawn(move || {
                    let mut n = 0;
                    for round in 0..rounds {
                        n += engine.replay(&convs[(round + k) % convs.len()]).len();
                    }
                    n
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    });
    let secs = t.elapsed().as_secs_f64();
    println!(
        "replay, {threads} threads: {:.0} customer turns/s",
        total as f64 / secs
    );
}
