//! The notes part of the configuration: `HEARTH_NOTES`, `HEARTH_NOTES_USERS`,
//! `HEARTH_NOTES_SHARED`.

use std::path::PathBuf;

use bot_core::{Platform, UserKey};
use hearth_notes::{Users, Vault, VaultAccess, VaultConfig};

use super::{ConfigError, bad};

/// Reads the vaults. Readers default to the first allowed user of each platform (the
/// owner); no vault is used in shared chats unless listed in
/// `HEARTH_NOTES_SHARED`.
pub fn from_vars(
    get: &dyn Fn(&str) -> Option<String>,
    telegram_allowed: &[String],
    discord_allowed: &[String],
) -> Result<Vec<Vault>, ConfigError> {
    let Some(raw) = get("HEARTH_NOTES") else {
        for var in ["HEARTH_NOTES_USERS", "HEARTH_NOTES_SHARED"] {
            if get(var).is_some() {
                return Err(bad(var, "is set but HEARTH_NOTES names no vault"));
            }
        }
        return Ok(Vec::new());
    };
    let mut vaults: Vec<Vault> = Vec::new();
    let owner = default_readers(telegram_allowed, discord_allowed);
    for item in raw.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (name, path) = match item.split_once('=') {
            Some((name, path)) => (name.trim().to_owned(), path.trim()),
            None => {
                let path = item.trim_end_matches('/');
                let name = path.rsplit('/').next().unwrap_or(path).to_lowercase();
                (name, item)
            }
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
        {
            return Err(bad(
                "HEARTH_NOTES",
                format!(
                    "'{name}' is not a vault name (letters, digits, - and _; e.g. main=/home/me/Obsidian)"
                ),
            ));
        }
        if path.is_empty() {
            return Err(bad("HEARTH_NOTES", format!("vault {name} has no folder")));
        }
        if vaults.iter().any(|v| v.config.name == name) {
            return Err(bad("HEARTH_NOTES", format!("two vaults are called {name}")));
        }
        vaults.push(Vault {
            config: VaultConfig {
                name,
                root: PathBuf::from(path),
            },
            access: VaultAccess {
                users: Users::Only(owner.clone()),
                shared_chats: false,
            },
        });
    }
    if vaults.is_empty() {
        return Err(bad(
            "HEARTH_NOTES",
            "names no vault (e.g. HEARTH_NOTES=main=/home/me/Obsidian)",
        ));
    }
    if let Some(raw) = get("HEARTH_NOTES_USERS") {
        for item in raw.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (name, who) = item.split_once('=').ok_or_else(|| {
                bad(
                    "HEARTH_NOTES_USERS",
                    format!(
                        "'{item}' should be VAULT=WHO, e.g. main=telegram:123+discord:456 or work=*"
                    ),
                )
            })?;
            let vault = find(&mut vaults, name.trim(), "HEARTH_NOTES_USERS")?;
            vault.access.users = readers(who.trim())?;
        }
    }
    if let Some(raw) = get("HEARTH_NOTES_SHARED") {
        for name in raw.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            if name == "*" {
                vaults.iter_mut().for_each(|v| v.access.shared_chats = true);
            } else {
                find(&mut vaults, name, "HEARTH_NOTES_SHARED")?
                    .access
                    .shared_chats = true;
            }
        }
    }
    Ok(vaults)
}

fn find<'a>(
    vaults: &'a mut [Vault],
    name: &str,
    var: &'static str,
) -> Result<&'a mut Vault, ConfigError> {
    vaults
        .iter_mut()
        .find(|v| v.config.name == name)
        .ok_or_else(|| bad(var, format!("no vault is called {name} in HEARTH_NOTES")))
}

fn readers(who: &str) -> Result<Users, ConfigError> {
    if who == "*" || who.eq_ignore_ascii_case("all") {
        return Ok(Users::Everyone);
    }
    let users = who
        .split(['+', ' '])
        .filter(|u| !u.is_empty())
        .map(|u| {
            UserKey::parse(u).ok_or_else(|| {
                bad(
                    "HEARTH_NOTES_USERS",
                    format!("'{u}' is not a user like telegram:123 or discord:456"),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Users::Only(users))
}

/// The owner: the first allowed user of each platform (the terminal is always the owner).
fn default_readers(telegram: &[String], discord: &[String]) -> Vec<UserKey> {
    let mut owner = Vec::new();
    if let Some(id) = telegram.first() {
        owner.push(UserKey::new(Platform::Telegram, id));
    }
    if let Some(id) = discord.first() {
        owner.push(UserKey::new(Platform::Discord, id));
    }
    owner
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(vars: &[(&str, &str)]) -> Result<Vec<Vault>, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        from_vars(
            &|name| vars.get(name).cloned(),
            &["1".into(), "2".into()],
            &["9".into()],
        )
    }

    #[test]
    fn named_vaults_default_to_the_owner_in_private() {
        let vaults = read(&[("HEARTH_NOTES", "main=/home/me/Obsidian, work=/srv/logseq")]).unwrap();
        assert_eq!(vaults.len(), 2);
        assert_eq!(vaults[1].config.root, PathBuf::from("/srv/logseq"));
        let owner = UserKey::new(Platform::Telegram, "1");
        let second = UserKey::new(Platform::Telegram, "2");
        assert!(vaults[0].access.allows(&owner, false));
        assert!(
            vaults[0]
                .access
                .allows(&UserKey::new(Platform::Discord, "9"), false)
        );
        assert!(!vaults[0].access.allows(&second, false));
        assert!(!vaults[0].access.allows(&owner, true));
    }

    #[test]
    fn readers_and_shared_vaults_per_vault() {
        let vaults = read(&[
            ("HEARTH_NOTES", "main=/a,work=/b"),
            ("HEARTH_NOTES_USERS", "main=telegram:2+discord:5,work=*"),
            ("HEARTH_NOTES_SHARED", "work"),
        ])
        .unwrap();
        let second = UserKey::new(Platform::Telegram, "2");
        assert!(vaults[0].access.allows(&second, false));
        assert!(
            !vaults[0]
                .access
                .allows(&UserKey::new(Platform::Telegram, "1"), false)
        );
        assert!(
            vaults[1]
                .access
                .allows(&UserKey::new(Platform::Telegram, "77"), true)
        );
    }

    #[test]
    fn mistakes_name_the_variable() {
        assert_eq!(
            read(&[("HEARTH_NOTES", "a=/x,a=/y")]).unwrap_err().var,
            "HEARTH_NOTES"
        );
        let unknown = read(&[("HEARTH_NOTES", "a=/x"), ("HEARTH_NOTES_USERS", "b=*")]);
        assert_eq!(unknown.unwrap_err().var, "HEARTH_NOTES_USERS");
        let bad_user = read(&[("HEARTH_NOTES", "a=/x"), ("HEARTH_NOTES_USERS", "a=bob")]);
        assert!(bad_user.unwrap_err().problem.contains("bob"));
        assert_eq!(
            read(&[("HEARTH_NOTES_SHARED", "a")]).unwrap_err().var,
            "HEARTH_NOTES_SHARED"
        );
        // A bare folder is a vault named after it.
        assert_eq!(
            read(&[("HEARTH_NOTES", "/home/me/Vault/")]).unwrap()[0]
                .config
                .name,
            "vault"
        );
    }
}
