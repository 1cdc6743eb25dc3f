#[weft::test(workers = "2")]
async fn a_string() {}

#[weft::test(workers = 2.5)]
async fn a_float() {}

const N: usize = 2;

#[weft::test(workers = N)]
async fn a_constant() {}

#[weft::test(workers = 2u8)]
async fn a_suffix() {}

#[weft::test(workers)]
async fn no_value() {}

#[weft::test(workers = 99999999999999999999999)]
async fn too_large() {}

fn main() {}
