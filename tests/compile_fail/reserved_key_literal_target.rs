// String-literal keys are checked too.
fn main() {
    logkit::info!("target" = "audit", "login");
}
