fn main() {
    let _span = logkit::span!("handle", status = 1);
}
