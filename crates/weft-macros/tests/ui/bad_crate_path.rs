#[weft::test(crate = "not a path")]
async fn not_a_path() {}

#[weft::test(crate = not_weft)]
async fn not_a_string() {}

#[weft::test(crate)]
async fn no_value() {}

fn main() {}
