pub async fn run(_a: crate::cli::BenchIngestArgs) -> anyhow::Result<()> {
    todo!()
}
