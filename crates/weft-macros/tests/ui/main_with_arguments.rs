#[weft::main]
async fn main(args: Vec<String>, verbose: bool) {
    let _ = (args, verbose);
}
