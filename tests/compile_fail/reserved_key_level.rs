// A field may not take a key logkit writes itself: a reader selecting
// `.level == "error"` would miss this record.
fn main() {
    logkit::error!(level = "debug", "disk full");
}
