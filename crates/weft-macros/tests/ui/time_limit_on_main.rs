#[weft::main(time_limit = std::time::Duration::from_secs(1))]
async fn main() {}
