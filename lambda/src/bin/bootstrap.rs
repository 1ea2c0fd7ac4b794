//! Entry point of the deployed function (`provided.al2023` runs the binary named `bootstrap`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    copy_lambda::init_logging();
    copy_lambda::run().await
}
