#[weft::test(start_paused = true)]
async fn frozen_clock() {}

fn main() {}
