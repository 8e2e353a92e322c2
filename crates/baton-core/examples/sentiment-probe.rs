//! Prints the sentiment of each argument (or each line of standard input) with its evidence.
use baton_core::signals::sentiment::SentimentModel;
use std::io::BufRead;

fn main() {
    let model = SentimentModel::new();
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
    }
}
