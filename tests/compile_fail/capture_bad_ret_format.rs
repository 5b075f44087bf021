#[logkit::capture(ret(Json))]
fn work() -> u32 {
    1
}

fn main() {
    work();
}
