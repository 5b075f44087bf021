// `trace_id` continues a trace only as the first argument of `new_context!`.
fn main() {
    logkit::new_context!(user = "u1", trace_id = "4bf92f3577b34da6a3ce929d0e0e4736");
}
