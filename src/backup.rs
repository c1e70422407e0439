//! `hearth backup DIR` and `hearth restore DIR`.
//!
//! A backup is a directory: `db/` (a copy of the database as it was at one moment, made by
//! the store itself between two writes, values as stored: an encrypted store's backup stays
//! encrypted), `keyring.json` when the data is encrypted (every person's key, sealed with
//! the master key, which is never copied), and `hearth-backup.json` (what it is, when, how
//! many entries). While the bot runs, the backup is made by the running bot (the admin
//! socket); otherwise the database is opened here. A restore copies a backup into a data
//! directory that has no database yet.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use bot_core::store::seal::KEYRING_FILE;
use bot_core::store::sled_store::SledStore;
use serde_json::{Value, json};

use crate::config::Config;

/// The manifest's name inside a backup.
pub const MANIFEST: &str = "hearth-backup.json";

/// Makes a backup into `dir` from the running `store` (called by the admin socket).
pub async fn from_running(store: &SledStore, data_dir: &Path, dir: &Path) -> anyhow::Result<Value> {
    prepare(dir)?;
    let entries = store.backup_to(dir.join("db")).await?;
    // The keyring is copied between two store writes too: every sealed value in the copy
    // has its key in the copied keyring.
    let (from, to) = (data_dir.join(KEYRING_FILE), dir.join(KEYRING_FILE));
    let encrypted = store
        .between_writes(move || {
            if from.exists() {
                std::fs::copy(&from, &to).map_err(|e| {
                    bot_core::store::StoreError::Unavailable(format!("copying the keyring: {e}"))
                })?;
                Ok(true)
            } else {
                Ok(false)
            }
        })
        .await?;
    finish(dir, entries, encrypted)
}

fn prepare(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        anyhow::bail!(
            "{} is not empty: a backup goes into a new or empty directory",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(())
}

fn finish(dir: &Path, entries: usize, encrypted: bool) -> anyhow::Result<Value> {
    let manifest = json!({
        "format": "hearth-backup/1",
        "created_at": chrono::Utc::now(),
        "hearth": env!("CARGO_PKG_VERSION"),
        "entries": entries,
        "encrypted": encrypted,
    });
    std::fs::write(dir.join(MANIFEST), serde_json::to_vec_pretty(&manifest)?)
        .with_context(|| format!("cannot write the manifest in {}", dir.display()))?;
    Ok(manifest)
}

fn absolute(dir: &Path) -> anyhow::Result<PathBuf> {
    Ok(if dir.is_absolute() {
        dir.to_owned()
    } else {
        std::env::current_dir()?.join(dir)
    })
}

/// `hearth backup DIR`.
pub async fn backup(config: &Config, dir: &Path) -> anyhow::Result<()> {
    let dir = absolute(dir)?;
    let request = json!({"op": "backup", "dir": dir});
    let manifest = match crate::admin::request(&config.data_dir, &request).await? {
        Some(answer) if answer["ok"].as_bool() == Some(true) => answer["manifest"].clone(),
        Some(answer) => anyhow::bail!(
            "the running bot could not back up: {}",
            answer["error"].as_str().unwrap_or("no reason given")
        ),
        None => {
            let db = config.data_dir.join("db");
            if !db.exists() {
                anyhow::bail!(
                    "there is no database in {} to back up",
                    config.data_dir.display()
                );
            }
            prepare(&dir)?;
            let entries = SledStore::backup_closed(&db, &dir.join("db"))?;
            let keyring = config.data_dir.join(KEYRING_FILE);
            let encrypted = keyring.exists();
            if encrypted {
                std::fs::copy(&keyring, dir.join(KEYRING_FILE)).context("copying the keyring")?;
            }
            finish(&dir, entries, encrypted)?
        }
    };
    println!(
        "backed up {} entries to {}{}",
        manifest["entries"],
        dir.display(),
        if manifest["encrypted"] == true {
            " (encrypted: restoring it needs the same master key)"
        } else {
            ""
        }
    );
    Ok(())
}

/// `hearth restore DIR`: into a data directory without a database.
pub fn restore(config: &Config, dir: &Path) -> anyhow::Result<()> {
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dir.join(MANIFEST)).with_context(|| {
            format!("{} is not a Hearth backup (no {MANIFEST})", dir.display())
        })?)
        .with_context(|| format!("{MANIFEST} is damaged"))?;
    if manifest["format"] != "hearth-backup/1" {
        anyhow::bail!("{} is not a backup this Hearth can restore", dir.display());
    }
    crate::data_dir::create(&config.data_dir)?;
    let db = config.data_dir.join("db");
    let keyring = config.data_dir.join(KEYRING_FILE);
    if db.exists() || keyring.exists() {
        anyhow::bail!(
            "{} already holds a database: restore into an empty data directory (set HEARTH_DATA_DIR to a new one, or move this one away first)",
            config.data_dir.display()
        );
    }
    let encrypted = manifest["encrypted"] == true;
    if encrypted && config.master_key_file.is_none() {
        anyhow::bail!(
            "the backup is encrypted: set HEARTH_MASTER_KEY_FILE to the master key it was made with"
        );
    }
    // Copied beside, then renamed: a restore that stops half-way leaves no database.
    let staging = config.data_dir.join("db.restoring");
    if staging.exists() {
        std::fs::remove_dir_all(&staging)?;
    }
    copy_dir(&dir.join("db"), &staging)?;
    if encrypted {
        std::fs::copy(dir.join(KEYRING_FILE), &keyring).context("copying the keyring")?;
    }
    std::fs::rename(&staging, &db)?;
    // Opening it checks it: the schema, and with encryption that the key opens the keyring.
    let store = crate::open_store(config)?;
    store.flush_all()?;
    println!(
        "restored {} entries from {} (made {}) into {}",
        manifest["entries"],
        dir.display(),
        manifest["created_at"].as_str().unwrap_or("?"),
        config.data_dir.display()
    );
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .with_context(|| format!("copying {}", entry.path().display()))?;
            std::fs::File::open(&target)?.sync_all()?;
        }
    }
    Ok(())
}
