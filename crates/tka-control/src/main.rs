//! `tka-control`: the control side of Tailnet Lock as a standalone server
//! for one tailnet on loopback (unauthenticated; see
//! `tka_control::standalone`).

use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use tka_control::standalone;
use tka_control::SqlStore;

#[derive(Parser)]
#[command(
    name = "tka-control",
    about = "Tailnet Lock control server (standalone, loopback only)"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve the /machine/tka endpoints for one tailnet.
    Serve {
        /// Loopback address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// SQLite database file (created if missing).
        #[arg(
            long,
            conflicts_with = "postgres",
            required_unless_present = "postgres"
        )]
        db: Option<PathBuf>,
        /// Postgres URL instead of an SQLite file.
        #[arg(long)]
        postgres: Option<String>,
    },
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let Cli {
        cmd: Cmd::Serve {
            listen,
            db,
            postgres,
        },
    } = Cli::parse();
    if let Err(e) = run(listen, db, postgres).await {
        eprintln!("tka-control: {e}");
        std::process::exit(1);
    }
}

async fn run(
    listen: SocketAddr,
    db: Option<PathBuf>,
    postgres: Option<String>,
) -> Result<(), Box<dyn std::error::Error>> {
    if !listen.ip().is_loopback() {
        return Err(standalone::StandaloneError::NotLoopback(listen).into());
    }
    let store = match (db, postgres) {
        (_, Some(url)) => SqlStore::postgres(&url).await?,
        (Some(path), None) => SqlStore::sqlite(path).await?,
        (None, None) => return Err("one of --db or --postgres is required".into()),
    };
    let handle = standalone::serve(store, listen).await?;
    println!(
        "tka-control: serving tailnet {:?} on http://{}",
        standalone::TAILNET,
        handle.addr()
    );
    tokio::signal::ctrl_c().await?;
    handle.shutdown().await?;
    Ok(())
}
