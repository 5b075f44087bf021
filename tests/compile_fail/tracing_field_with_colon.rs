// A field written `key: value` (struct syntax) instead of `key = value`.
fn main() {
    logkit::info!(user: "ann", "login");
}
