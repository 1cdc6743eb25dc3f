#[weft::main(crate = "not_weft")]
async fn main() {}
