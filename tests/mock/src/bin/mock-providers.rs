//! `mock-providers --listen 127.0.0.1:0 [--openai-key K]... [--anthropic-key K]... [--gemini-key K]...`: prints `listening on http://ADDR`.

use std::time::Duration;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut listen = "127.0.0.1:0".to_string();
    let mut config = mock_providers::MockConfig {
        chunk_delay: Duration::from_millis(5),
        ..Default::default()
    };
    while let Some(arg) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| anyhow::anyhow!("{arg} needs a value"))?;
        match arg.as_str() {
            "--listen" => listen = value,
            "--openai-key" => config.openai_keys.push(value),
            "--anthropic-key" => config.anthropic_keys.push(value),
            "--gemini-key" => config.gemini_keys.push(value),
            "--chunk-delay-ms" => config.chunk_delay = Duration::from_millis(value.parse()?),
            other => anyhow::bail!("unknown option {other}"),
        }
    }
    let mock = mock_providers::server::start_on(listen.parse()?, config).await?;
    println!("listening on {}", mock.base_url());
    std::future::pending::<()>().await;
    Ok(())
}
