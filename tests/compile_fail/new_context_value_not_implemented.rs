#[derive(Debug)]
struct User(u32);

fn main() {
    let u = User(1);
    logkit::new_context!(user = u);
}
