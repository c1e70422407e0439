//! `hearth memory list|export|forget --user ID`: the owner's view of what the
//! bot keeps about a user. Works on the database directly, so stop the bot first.

use bot_core::UserKey;
use clap::Subcommand;

use crate::config::Config;

/// What to do.
#[derive(Subcommand)]
pub enum Action {
    /// List a user's memories.
    List {
        /// The user, as platform:id (e.g. telegram:123456).
        #[arg(long)]
        user: String,
    },
    /// Print everything stored about a user as JSON.
    Export {
        /// The user, as platform:id.
        #[arg(long)]
        user: String,
    },
    /// Forget one memory (--id) or all of them (--all).
    Forget {
        /// The user, as platform:id.
        #[arg(long)]
        user: String,
        /// The memory id, e.g. m3.
        #[arg(long, conflicts_with = "all", required_unless_present = "all")]
        id: Option<String>,
        /// Forget every memory of the user.
        #[arg(long)]
        all: bool,
    },
}

fn user_key(raw: &str) -> anyhow::Result<UserKey> {
    UserKey::parse(raw)
        .ok_or_else(|| anyhow::anyhow!("--user must look like telegram:123456, not '{raw}'"))
}

/// Runs one memory command.
pub async fn run(config: Config, action: Action) -> anyhow::Result<()> {
    let crate::Services { service, store, .. } =
        crate::build_service(&config, false, false).await?;
    let memories = service.memories();
    match action {
        Action::List { user } => {
            let user = user_key(&user)?;
            let all = memories.list(&user).await?;
            for memory in &all {
                println!(
                    "{}\t{}\t{}\t{}",
                    memory.id,
                    memory.created.format("%Y-%m-%d %H:%M"),
                    memory.source.label(),
                    memory.text
                );
            }
            eprintln!("{} memories of {user}", all.len());
        }
        Action::Export { user } => {
            let export = service.export(&user_key(&user)?).await?;
            println!("{}", serde_json::to_string_pretty(&export)?);
        }
        Action::Forget { user, id, all } => {
            let user = user_key(&user)?;
            if all {
                let n = memories.forget_all(&user).await?;
                println!("forgot {n} memories of {user}");
            } else if let Some(id) = id {
                if memories.forget(&user, &id).await? {
                    println!("forgot {id} of {user}");
                } else {
                    anyhow::bail!("{user} has no memory {id}");
                }
            }
        }
    }
    store.flush_all()?;
    Ok(())
}
