// A field whose type is not a logkit `Value`: the error says to write `?` or `%`.
struct Req {
    id: u32,
}

fn main() {
    let r = Req { id: 1 };
    logkit::info!(req = r, "handled");
    let _ = r.id;
}
