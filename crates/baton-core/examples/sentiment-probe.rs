//! Prints the sentiment of each argument (or each line of standard input) with its evidence;
//! with `SHOW_FEATURES=1` also the features that are not zero.
use baton_core::signals::sentiment::{FEATURE_NAMES, SentimentModel};
use std::io::BufRead;

fn main() {
    let model = SentimentModel::new();
    let show_features = std::env::var_os("SHOW_FEATURES").is_some();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let lines: Vec<String> = if args.is_empty() {
        std::io::stdin()
            .lock()
            .lines()
            .map_while(Result::ok)
            .collect()
    } else {
        args
    };
    for line in lines {
        let r = model.read(&line);
        println!("{:+.3}  {line}  {:?}", r.score, r.evidence);
        if show_features {
            let f = model.features(&line);
            let parts: Vec<String> = FEATURE_NAMES
                .iter()
                .zip(f.values)
                .filter(|(_, v)| *v != 0.0)
                .map(|(n, v)| format!("{n} {v:+.2}"))
                .collect();
            println!("        {}", parts.join(", "));
        }
    }
}
