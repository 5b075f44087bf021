fn main() {
    let outer = logkit::span!("outer");
    logkit::info!(parent: &outer, "inside");
}
