#[weft::test(time_limit)]
async fn no_value() {}

#[weft::test(time_limit = std::time::Duration::from_secs(1), time_limit = std::time::Duration::from_secs(2))]
async fn twice() {}

fn main() {}
