//! Who may talk to the bot: default deny, with an allow-list per platform.

use std::collections::HashSet;

use crate::types::Platform;

/// The allow-list. A user not on it gets a polite refusal and nothing else.
#[derive(Clone, Debug, Default)]
pub struct AccessPolicy {
    allowed: HashSet<(Platform, String)>,
}

impl AccessPolicy {
    /// A policy that allows nobody.
    pub fn deny_all() -> Self {
        Self::default()
    }

    /// Allows `user_id` on `platform`.
    pub fn allow(mut self, platform: Platform, user_id: impl Into<String>) -> Self {
        self.allowed.insert((platform, user_id.into()));
        self
    }

    /// Allows each of `user_ids` on `platform`.
    pub fn allow_all(
        mut self,
        platform: Platform,
        user_ids: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        for id in user_ids {
            self.allowed.insert((platform, id.into()));
        }
        self
    }

    /// Whether `user_id` on `platform` may use the bot. The terminal is always allowed:
    /// whoever runs `hearth chat` owns the machine.
    pub fn is_allowed(&self, platform: Platform, user_id: &str) -> bool {
        platform == Platform::Terminal || self.allowed.contains(&(platform, user_id.to_owned()))
    }

    /// The refusal a stranger sees: it names their id so the owner can add it.
    pub fn refusal(platform: Platform, user_id: &str) -> String {
        let var = match platform {
            Platform::Telegram => "HEARTH_TELEGRAM_ALLOWED_USERS",
            Platform::Discord => "HEARTH_DISCORD_ALLOWED_USERS",
            Platform::Terminal => "",
        };
        format!(
            "Sorry, this is a private assistant and you are not on its list of users. \
             If you know its owner, ask them to add your user id {user_id} to {var}."
        )
    }
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
        assert!(AccessPolicy::refusal(Platform::Telegram, "77").contains("77"));
    }
}
