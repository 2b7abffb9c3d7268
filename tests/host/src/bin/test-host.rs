//! `test-host --from spin.toml [--listen 127.0.0.1:3000] [--tcp-nodelay true]`: serves the app like
//! `spin up` (`--tcp-nodelay` sets what Spin leaves unset, to measure its effect).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut manifest = std::path::PathBuf::from("spin.toml");
    let mut listen = "127.0.0.1:3000".to_string();
    let mut tcp_nodelay = false;
    while let Some(arg) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| anyhow::anyhow!("{arg} needs a value"))?;
        match arg.as_str() {
            "--from" | "-f" => manifest = value.into(),
            "--listen" => listen = value,
            "--tcp-nodelay" => tcp_nodelay = value.parse()?,
            other => anyhow::bail!("unknown option {other}"),
        }
    }
    let host = test_host::start(test_host::HostConfig {
        manifest,
        listen: listen.parse()?,
        env: std::env::vars().collect(),
        tcp_nodelay,
    })
    .await?;
    println!("Serving http://{}", host.addr());
    println!("Available Routes:");
    for (pattern, component) in &host.routes {
        println!("  {component}: http://{}{pattern}", host.addr());
    }
    std::future::pending::<()>().await;
    Ok(())
}
