//! `keyward-sim`: a local exchange simulator (filled in by the exchange layer).

fn main() {
    eprintln!("keyward-sim: not implemented yet");
    std::process::exit(1);
}
