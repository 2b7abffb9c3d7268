//! `test-host --from spin.toml [--listen 127.0.0.1:3000] [--runtime-config-file FILE]
//! [--state-dir DIR] [--tcp-nodelay true]`: serves the app like `spin up`. As in Spin, the runtime
//! config file may also come from `RUNTIME_CONFIG_FILE`, `--state-dir ""` means none (the default
//! SQLite database in memory) and without it the state directory is `.spin` beside the manifest.
//! `--state-dir temporary` (this host only) uses a fresh directory removed at exit.
//! `--tcp-nodelay` sets what Spin leaves unset, to measure its effect.

use test_host::{HostOptions, StateDir};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut manifest = std::path::PathBuf::from("spin.toml");
    let mut listen = "127.0.0.1:3000".to_string();
    let mut tcp_nodelay = false;
    let mut options = HostOptions {
        runtime_config_file: std::env::var_os("RUNTIME_CONFIG_FILE")
            .filter(|f| !f.is_empty())
            .map(Into::into),
        state_dir: StateDir::SpinDefault,
    };
    while let Some(arg) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| anyhow::anyhow!("{arg} needs a value"))?;
        match arg.as_str() {
            "--from" | "-f" => manifest = value.into(),
            "--listen" => listen = value,
            "--tcp-nodelay" => tcp_nodelay = value.parse()?,
            "--runtime-config-file" => options.runtime_config_file = Some(value.into()),
            "--state-dir" => {
                options.state_dir = match value.as_str() {
                    "" => StateDir::Unset,
                    "temporary" => StateDir::Temporary,
                    dir => StateDir::Path(dir.into()),
                }
            }
            other => anyhow::bail!("unknown option {other}"),
        }
    }
    let host = test_host::start_with(
        test_host::HostConfig {
            manifest,
            listen: listen.parse()?,
            env: std::env::vars().collect(),
            tcp_nodelay,
        },
        options,
    )
    .await?;
    println!("Serving http://{}", host.addr());
    println!("Available Routes:");
    for (pattern, component) in &host.routes {
        println!("  {component}: http://{}{pattern}", host.addr());
    }
    std::future::pending::<()>().await;
    Ok(())
}
