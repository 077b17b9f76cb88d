//! `whenly cluster …`, `whenly node …`, `whenly mail …`, `whenly backup` and `whenly restore`:
//! the operator's commands. Credentials are files;
//! node states live in the database, which every server process reads on each monitor pass,
//! so a command here takes effect within a second without talking to a running server.

use event_node::credentials::{CredentialDir, CredentialError};
use event_node::protocol::link::valid_node_id;
use event_node::protocol::Peer;

mod backup;

use crate::cluster::repo;
use crate::config::{ClusterCommand, Command, Config, MailCommand, NodeCommand};
use crate::db::Db;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{0}")]
    Refused(String),
    #[error("{0}: {1}")]
    File(std::path::PathBuf, std::io::Error),
    #[error("{0}")]
    Tool(String),
}

/// Runs one command; what it did goes to stdout.
pub async fn run(command: &Command, config: &Config) -> Result<(), AdminError> {
    match command {
        Command::Cluster(command) => cluster(command, config),
        Command::Node(command) => node(command, config).await,
        Command::Mail(command) => mail(command, config).await,
        Command::Backup { to } => backup::back_up(&config.database_url(), to).await,
        Command::Restore { from } => backup::restore(&config.database_url(), from).await,
    }
}

async fn mail(command: &MailCommand, config: &Config) -> Result<(), AdminError> {
    let db = Db::connect(&config.database_url()).await?;
    match command {
        MailCommand::Failed => {
            for row in crate::outbox::failed(&db, 100).await? {
                println!("{}	{}	{}	user {}	{} attempts	{}", row.notification_id, row.created_at.to_rfc3339(), row.kind, row.user_id, row.mail_attempts, row.mail_error.unwrap_or_default());
            }
        }
    }
    Ok(())
}

fn cluster(command: &ClusterCommand, config: &Config) -> Result<(), AdminError> {
    let credentials = CredentialDir::new(config.cluster_credentials());
    match command {
        ClusterCommand::Init => {
            let made = credentials.init()?;
            credentials.ensure(&Peer::Server)?;
            let what = if made { "created" } else { "already there" };
            println!("cluster CA {what} in {}; the server's certificate is server.crt", credentials.path().display());
        }
        ClusterCommand::Issue { node_id } => {
            if !valid_node_id(node_id) {
                return Err(AdminError::Refused(format!("{node_id:?} is not a node id: 1–32 of a-z 0-9 -")));
            }
            credentials.issue(&Peer::Node(node_id.clone()))?;
            println!(
                "issued {0}: copy {1}/ca.crt, {1}/node-{0}.crt and {1}/node-{0}.key to the node (--credentials)",
                node_id,
                credentials.path().display()
            );
        }
    }
    Ok(())
}

async fn node(command: &NodeCommand, config: &Config) -> Result<(), AdminError> {
    let db = Db::connect(&config.database_url()).await?;
    match command {
        NodeCommand::List => {
            for row in repo::nodes(&db).await? {
                println!("{}\t{}\t{}", row.node_id, row.state, row.address);
            }
        }
        NodeCommand::Drain { node_id } => {
            if !repo::transition_node(&db, node_id, &["live", "dead", "draining"], "draining").await? {
                return Err(AdminError::Refused(format!("{node_id} is unknown, quarantined or retired: nothing to drain")));
            }
            println!("{node_id} is draining: its work moves to the other nodes, then it is retired and stops");
        }
        NodeCommand::LiftQuarantine { node_id } => {
            if !repo::lift_quarantine(&db, node_id).await? {
                return Err(AdminError::Refused(format!("{node_id} is not quarantined")));
            }
            println!("{node_id} is back in the ring");
        }
    }
    Ok(())
}
