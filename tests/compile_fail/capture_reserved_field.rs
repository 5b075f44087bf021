// A field of the span may not take a key logkit writes: `status` is the END's.
#[logkit::capture(fields(status = 200))]
fn work() {}

fn main() {
    work();
}
