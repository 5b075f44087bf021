#[logkit::capture(level = "loud")]
fn work() {}

fn main() {
    work();
}
