//! `/language`: the language a person is answered in.

use super::{Inner, Reply};
use crate::lang::{self, Choice, Lang};
use crate::service::memory_commands::escape_markdown;
use crate::store::StoreError;
use crate::types::InboundMessage;

impl Inner {
    /// The language of the bot's own words to the sender of `message`.
    pub(super) fn lang_of(&self, message: &InboundMessage, setting: Option<&str>) -> Lang {
        lang::for_person(setting, message.locale.as_deref(), self.config.language)
    }

    /// The language of the bot's own words to the sender of `message`, with their setting
    /// (English-or-locale when the settings cannot be read).
    pub(super) async fn person_lang(&self, message: &InboundMessage) -> Lang {
        let settings = self.deps.settings.settings(&message.user_key()).await;
        let setting = settings.ok().and_then(|s| s.language);
        self.lang_of(message, setting.as_deref())
    }

    pub(super) async fn language_command(
        &self,
        arg: Option<String>,
        message: &InboundMessage,
        reply: &Reply,
    ) -> Result<(), StoreError> {
        let user = message.user_key();
        let mut settings = self.deps.settings.settings(&user).await?;
        let Some(wanted) = arg else {
            let shown = self.lang_of(message, settings.language.as_deref());
            let key = if settings.language.is_some() {
                "language-shown-fixed"
            } else {
                "language-shown-auto"
            };
            reply.finish(lang::t(shown, key)).await;
            return Ok(());
        };
        let Some(choice) = Choice::parse(&wanted) else {
            let shown = self.lang_of(message, settings.language.as_deref());
            let wanted = escape_markdown(wanted.trim());
            reply
                .finish(lang::tr(shown, "language-unknown", &[("wanted", &wanted)]))
                .await;
            return Ok(());
        };
        settings.language = match choice {
            Choice::Fixed(lang) => Some(lang.code().to_owned()),
            Choice::Auto => None,
        };
        self.deps.settings.set_settings(&user, &settings).await?;
        self.deps.settings.flush().await?;
        tracing::info!(user = %user, language = ?choice, "language set");
        let text = match choice {
            Choice::Fixed(lang) => lang::t(lang, "language-set-fixed"),
            Choice::Auto => lang::t(self.lang_of(message, None), "language-set-auto"),
        };
        reply.finish(text).await;
        Ok(())
    }
}
