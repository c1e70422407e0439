//! Who may talk to the bot: default deny, with allow-lists per platform.
//!
//! A person is admitted when their user id is listed, or (on platforms with
//! servers and roles, i.e. Discord) when they write from a listed server or
//! hold a listed role there. Server and role grants never cover direct
//! messages: there the bot cannot see a membership, only a user id.

use std::collections::HashSet;

use crate::types::{InboundMessage, Membership, Platform};

/// The allow-lists. A person on none of them gets a polite refusal and nothing else.
#[derive(Clone, Debug, Default)]
pub struct AccessPolicy {
    users: HashSet<(Platform, String)>,
    groups: HashSet<(Platform, String)>,
    roles: HashSet<(Platform, String)>,
}

impl AccessPolicy {
    /// A policy that allows nobody.
    pub fn deny_all() -> Self {
        Self::default()
    }

    /// Allows `user_id` on `platform`.
    pub fn allow(mut self, platform: Platform, user_id: impl Into<String>) -> Self {
        self.users.insert((platform, user_id.into()));
        self
    }

    /// Allows each of `user_ids` on `platform`.
    pub fn allow_all(
        mut self,
        platform: Platform,
        user_ids: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        add(&mut self.users, platform, user_ids);
        self
    }

    /// Allows everyone writing from one of the servers `group_ids` on `platform`.
    pub fn allow_groups(
        mut self,
        platform: Platform,
        group_ids: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        add(&mut self.groups, platform, group_ids);
        self
    }

    /// Allows everyone holding one of the roles `role_ids` on `platform`.
    pub fn allow_roles(
        mut self,
        platform: Platform,
        role_ids: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        add(&mut self.roles, platform, role_ids);
        self
    }

    /// Whether `user_id` on `platform` may use the bot by their user id alone. The
    /// terminal is always allowed: whoever runs `hearth chat` owns the machine.
    pub fn is_allowed(&self, platform: Platform, user_id: &str) -> bool {
        platform == Platform::Terminal || self.users.contains(&(platform, user_id.to_owned()))
    }

    /// Whether a person may use the bot, given where they write from.
    pub fn admits(
        &self,
        platform: Platform,
        user_id: &str,
        membership: Option<&Membership>,
    ) -> bool {
        self.is_allowed(platform, user_id)
            || membership.is_some_and(|m| {
                self.groups.contains(&(platform, m.group_id.clone()))
                    || m.role_ids
                        .iter()
                        .any(|role| self.roles.contains(&(platform, role.clone())))
            })
    }

    /// Whether the author of `message` may use the bot.
    pub fn admits_message(&self, message: &InboundMessage) -> bool {
        self.admits(
            message.platform,
            &message.user_id,
            message.membership.as_ref(),
        )
    }

    /// The refusal a stranger sees, in `lang`: it names their id so the owner can add it.
    pub fn refusal(platform: Platform, user_id: &str, lang: crate::lang::Lang) -> String {
        let var = match platform {
            Platform::Telegram => "HEARTH_TELEGRAM_ALLOWED_USERS",
            Platform::Discord => {
                "HEARTH_DISCORD_ALLOWED_USERS (or allow your role or server with \
                 HEARTH_DISCORD_ALLOWED_ROLES / HEARTH_DISCORD_ALLOWED_GUILDS)"
            }
            Platform::Terminal => "",
        };
        crate::lang::tr(lang, "refused", &[("id", user_id), ("setting", var)])
    }
}

fn add(
    set: &mut HashSet<(Platform, String)>,
    platform: Platform,
    ids: impl IntoIterator<Item = impl Into<String>>,
) {
    set.extend(ids.into_iter().map(|id| (platform, id.into())));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_denies_and_allow_list_admits() {
        let policy = AccessPolicy::deny_all().allow_all(Platform::Telegram, ["1", "2"]);
        assert!(policy.is_allowed(Platform::Telegram, "1"));
        assert!(!policy.is_allowed(Platform::Telegram, "3"));
        assert!(!policy.is_allowed(Platform::Discord, "1"));
        assert!(
            AccessPolicy::refusal(Platform::Telegram, "77", crate::lang::Lang::En).contains("77")
        );
    }

    #[test]
    fn servers_and_roles_admit_only_members() {
        let policy = AccessPolicy::deny_all()
            .allow_groups(Platform::Discord, ["g1"])
            .allow_roles(Platform::Discord, ["r1"]);
        let member = |group: &str, roles: &[&str]| Membership {
            group_id: group.into(),
            role_ids: roles.iter().map(|r| r.to_string()).collect(),
        };
        assert!(policy.admits(Platform::Discord, "5", Some(&member("g1", &[]))));
        assert!(policy.admits(Platform::Discord, "5", Some(&member("g2", &["r1"]))));
        assert!(!policy.admits(Platform::Discord, "5", Some(&member("g2", &["r2"]))));
        // A direct message carries no membership: server and role grants do not apply.
        assert!(!policy.admits(Platform::Discord, "5", None));
        // Grants are per platform.
        assert!(!policy.admits(Platform::Telegram, "5", Some(&member("g1", &["r1"]))));
    }
}
