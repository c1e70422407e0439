//! `hearth user export|erase --user ID`: everything Hearth keeps about one person.
//!
//! While the bot runs it holds the database, so the request goes through it (the admin
//! socket, `admin.rs`); otherwise the database is opened here. Either way the same service
//! code exports and erases as `/export` and `/forget everything` do.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::PathBuf;

use anyhow::Context as _;
use bot_core::UserKey;
use clap::Subcommand;
use serde_json::{Value, json};

use crate::config::Config;

/// What to do.
#[derive(Subcommand)]
pub enum Action {
    /// Everything stored about a person, as JSON (the same file /export sends them).
    Export {
        /// The person, as platform:id (e.g. telegram:123456).
        #[arg(long)]
        user: String,
        /// Write it to this file (0600) instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Delete everything stored about a person: conversations, memories, settings,
    /// reminders, schedules, filed documents; with encryption their key is destroyed first.
    Erase {
        /// The person, as platform:id.
        #[arg(long)]
        user: String,
        /// Do not ask first.
        #[arg(long)]
        yes: bool,
    },
}

fn user_key(raw: &str) -> anyhow::Result<UserKey> {
    UserKey::parse(raw)
        .ok_or_else(|| anyhow::anyhow!("--user must look like telegram:123456, not '{raw}'"))
}

/// Runs one user command.
pub async fn run(config: Config, action: Action) -> anyhow::Result<()> {
    match action {
        Action::Export { user, out } => {
            let user = user_key(&user)?;
            let export = match ask_bot(&config, json!({"op": "user_export", "user": user})).await? {
                Some(answer) => answer["export"].clone(),
                None => {
                    let (service, store) = open(&config).await?;
                    let export = service.export(&user).await?;
                    store.flush_all()?;
                    export
                }
            };
            let text = serde_json::to_string_pretty(&export)?;
            match out {
                Some(path) => {
                    // The process umask (0077) keeps it the owner's.
                    std::fs::write(&path, text + "\n")
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    eprintln!("wrote everything stored about {user} to {}", path.display());
                }
                None => println!("{text}"),
            }
        }
        Action::Erase { user, yes } => {
            let user = user_key(&user)?;
            if !yes && !confirmed(&user)? {
                println!("nothing was erased");
                return Ok(());
            }
            let erased = match ask_bot(&config, json!({"op": "user_erase", "user": user})).await? {
                Some(answer) => answer["erased"].clone(),
                None => {
                    let (service, store) = open(&config).await?;
                    let erased = service.erase_person(&user).await?;
                    store.flush_all()?;
                    serde_json::to_value(erased)?
                }
            };
            println!(
                "erased everything stored about {user}: {} memories, {} messages, {} reminders, {} documents{}",
                erased["memories"],
                erased["messages"],
                erased["reminders"],
                erased["documents"],
                if erased["settings"] == true {
                    ", their settings"
                } else {
                    ""
                }
            );
            if config.master_key_file.is_none() {
                println!(
                    "note: the data is not encrypted (no HEARTH_MASTER_KEY_FILE), so the database's log may hold old copies until it reuses the space; with a master key the person's key is destroyed and such copies cannot be read"
                );
            }
        }
    }
    Ok(())
}

/// Asks at the terminal; without one, refuses (say --yes).
fn confirmed(user: &UserKey) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        anyhow::bail!("erasing cannot be undone: add --yes to erase {user} without the question");
    }
    print!(
        "Erase everything Hearth keeps about {user} (conversations, memories, settings, reminders, documents)? This cannot be undone. Type yes: "
    );
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim().eq_ignore_ascii_case("yes"))
}

/// The running bot's answer, `None` when no bot runs on this data directory.
async fn ask_bot(config: &Config, request: Value) -> anyhow::Result<Option<Value>> {
    let Some(answer) = crate::admin::request(&config.data_dir, &request).await? else {
        return Ok(None);
    };
    if answer["ok"].as_bool() == Some(true) {
        Ok(Some(answer))
    } else {
        anyhow::bail!(
            "the running bot refused: {}",
            answer["error"].as_str().unwrap_or("no reason given")
        )
    }
}

async fn open(
    config: &Config,
) -> anyhow::Result<(
    bot_core::ChatService,
    bot_core::store::sled_store::SledStore,
)> {
    let crate::Services { service, store, .. } = crate::build_service(config, false, false).await?;
    Ok((service, store))
}
