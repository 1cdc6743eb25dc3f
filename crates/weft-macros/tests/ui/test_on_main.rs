#[weft::test]
async fn main() {}
