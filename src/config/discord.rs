//! The Discord part of the configuration.

use std::time::Duration;

use hearth_discord::{DISCORD_URL, DiscordConfig};
use url::Url;

use super::{ConfigError, bad, flag, id_list, number};

/// Who may use the bot on Discord.
#[derive(Debug, Default)]
pub struct DiscordAccess {
    /// User ids (`HEARTH_DISCORD_ALLOWED_USERS`).
    pub users: Vec<String>,
    /// Role ids (`HEARTH_DISCORD_ALLOWED_ROLES`): anyone holding one, in servers.
    pub roles: Vec<String>,
    /// Server ids (`HEARTH_DISCORD_ALLOWED_GUILDS`): every member, in that server.
    pub guilds: Vec<String>,
}

impl DiscordAccess {
    /// Nobody is allowed.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.roles.is_empty() && self.guilds.is_empty()
    }
}

/// Reads the Discord settings; `None` when no token is set.
pub fn from_vars(
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<(Option<DiscordConfig>, DiscordAccess), ConfigError> {
    let access = DiscordAccess {
        users: id_list(
            get("HEARTH_DISCORD_ALLOWED_USERS").as_deref(),
            "HEARTH_DISCORD_ALLOWED_USERS",
        )?,
        roles: id_list(
            get("HEARTH_DISCORD_ALLOWED_ROLES").as_deref(),
            "HEARTH_DISCORD_ALLOWED_ROLES",
        )?,
        guilds: id_list(
            get("HEARTH_DISCORD_ALLOWED_GUILDS").as_deref(),
            "HEARTH_DISCORD_ALLOWED_GUILDS",
        )?,
    };
    let Some(token) = get("DISCORD_BOT_TOKEN") else {
        return Ok((None, access));
    };
    if token.len() < 20 || token.chars().any(|c| c.is_whitespace() || !c.is_ascii()) {
        return Err(bad(
            "DISCORD_BOT_TOKEN",
            "does not look like a bot token (copy it from the Bot page of your application \
             in the Discord developer portal)",
        ));
    }
    let raw_url = get("DISCORD_API_URL").unwrap_or_else(|| DISCORD_URL.to_owned());
    let api_url = Url::parse(&raw_url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .ok_or_else(|| {
            bad(
                "DISCORD_API_URL",
                format!("'{raw_url}' is not an http(s) URL"),
            )
        })?;
    let command_guilds = id_list(
        get("HEARTH_DISCORD_GUILDS").as_deref(),
        "HEARTH_DISCORD_GUILDS",
    )?
    .iter()
    .map(|id| id.parse::<u64>().ok().filter(|&id| id > 0))
    .collect::<Option<Vec<_>>>()
    .ok_or_else(|| bad("HEARTH_DISCORD_GUILDS", "server ids are positive numbers"))?;
    let interval = number(
        get("HEARTH_DISCORD_EDIT_INTERVAL_MS").as_deref(),
        "HEARTH_DISCORD_EDIT_INTERVAL_MS",
        1500,
        50..=60_000,
    )?;
    let config = DiscordConfig {
        token: token.into(),
        api_url,
        command_guilds,
        mention_chat: flag(
            get("HEARTH_DISCORD_MENTIONS").as_deref(),
            "HEARTH_DISCORD_MENTIONS",
        )?,
        edit_interval: Duration::from_millis(interval),
    };
    Ok((Some(config), access))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<(Option<DiscordConfig>, DiscordAccess), ConfigError> {
        from_vars(&super::super::lookup(pairs))
    }

    #[test]
    fn discord_settings_and_errors() {
        let (config, access) = read(&[
            ("DISCORD_BOT_TOKEN", "MTAxMDEw.secret-part.abcdefghijklmnop"),
            ("DISCORD_API_URL", "http://127.0.0.1:9"),
            ("HEARTH_DISCORD_GUILDS", "30, 31"),
            ("HEARTH_DISCORD_ALLOWED_ROLES", "77"),
            ("HEARTH_DISCORD_MENTIONS", "on"),
        ])
        .unwrap();
        let config = config.unwrap();
        assert_eq!(config.command_guilds, vec![30, 31]);
        assert!(config.mention_chat);
        assert_eq!(access.roles, vec!["77"]);
        assert!(!format!("{config:?}").contains("secret-part"));

        let (none, _) = read(&[]).unwrap();
        assert!(none.is_none());
        let err = read(&[("DISCORD_BOT_TOKEN", "short secret")]).unwrap_err();
        assert_eq!(err.var, "DISCORD_BOT_TOKEN");
        assert!(!err.to_string().contains("short secret"));
        let err = read(&[("HEARTH_DISCORD_ALLOWED_GUILDS", "home")]).unwrap_err();
        assert_eq!(err.var, "HEARTH_DISCORD_ALLOWED_GUILDS");
    }
}
