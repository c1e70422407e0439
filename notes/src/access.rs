//! Who may read which vault, and where.
//!
//! Notes are the owner's: by default only the first allowed user of each platform (the
//! owner, by the order of the allow-lists) gets them, and only in private chats. The owner
//! names other readers per vault (`HEARTH_NOTES_USERS`) and the vaults that may be used in
//! group chats and public channels (`HEARTH_NOTES_SHARED`).

use bot_core::UserKey;

/// Who may read a vault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Users {
    /// Everyone the bot answers.
    Everyone,
    /// Only these people.
    Only(Vec<UserKey>),
}

/// A vault's readers and whether it may be used where others read along.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaultAccess {
    /// Who.
    pub users: Users,
    /// Its passages may reach group chats and public channels.
    pub shared_chats: bool,
}

impl VaultAccess {
    /// Whether `user` may read the vault in a chat that is `shared` (or private). Whoever
    /// uses `hearth chat` in the terminal runs as the bot's account: the owner.
    pub fn allows(&self, user: &UserKey, shared: bool) -> bool {
        if user.parts().0 == bot_core::Platform::Terminal {
            return true;
        }
        if shared && !self.shared_chats {
            return false;
        }
        match &self.users {
            Users::Everyone => true,
            Users::Only(users) => users.contains(user),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bot_core::Platform;

    #[test]
    fn private_by_default_and_per_person() {
        let owner = UserKey::new(Platform::Telegram, "1");
        let other = UserKey::new(Platform::Telegram, "2");
        let access = VaultAccess {
            users: Users::Only(vec![owner.clone()]),
            shared_chats: false,
        };
        assert!(access.allows(&owner, false));
        assert!(
            !access.allows(&owner, true),
            "never in a group unless allowed"
        );
        assert!(!access.allows(&other, false));
        let open = VaultAccess {
            users: Users::Everyone,
            shared_chats: true,
        };
        assert!(open.allows(&other, true));
    }
}
