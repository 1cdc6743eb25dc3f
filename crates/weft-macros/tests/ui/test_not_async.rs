#[weft::test]
fn plain() {}

fn main() {}
