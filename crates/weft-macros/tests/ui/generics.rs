#[weft::test]
async fn generic<T: Default>() {
    let _ = T::default();
}

#[weft::test]
async fn with_where() where u8: Copy {}

#[weft::main]
async fn main<'a>() {}
