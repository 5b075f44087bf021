fn main() {
    let _span = logkit::span!("handle", user: "ann");
}
