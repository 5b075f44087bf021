#[logkit::capture(skip(pasword))]
fn login(user: &str, password: &str) -> usize {
    user.len() + password.len()
}

fn main() {
    login("ann", "x");
}
