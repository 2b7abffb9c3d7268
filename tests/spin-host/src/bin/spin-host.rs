//! `spin-host --from spin.toml [--listen 127.0.0.1:3000]`: runs an app like `spin up`
//! (`SPIN_VARIABLE_*` from the process environment) until killed.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use spin_host::{start, HostConfig};

fn usage() -> &'static str {
    "usage: spin-host --from spin.toml [--listen 127.0.0.1:3000]"
}

#[tokio::main]
async fn main() -> Result<()> {
    let mut manifest = PathBuf::from("spin.toml");
    let mut listen: SocketAddr = "127.0.0.1:3000".parse()?;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--from" | "-f" => manifest = args.next().context(usage())?.into(),
            "--listen" => listen = args.next().context(usage())?.parse().context(usage())?,
            "--help" | "-h" => {
                println!("{}", usage());
                return Ok(());
            }
            other => bail!("unexpected argument {other:?}\n{}", usage()),
        }
    }
    let host = start(HostConfig {
        manifest,
        listen,
        env: std::env::vars().collect(),
    })
    .await?;
    println!("\nServing http://{}", host.addr());
    println!("Available Routes:");
    for line in host.routes() {
        println!("{line}");
    }
    // Runs until the process is killed (Ctrl-C, SIGTERM).
    std::future::pending::<()>().await;
    Ok(())
}
