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
            let text = match (shown, settings.language.is_some()) {
                (Lang::Ko, true) => "언어: 한국어로 답합니다.\n바꾸려면 /language en (English) 또는 /language auto (보내신 메시지의 언어로)".to_owned(),
                (Lang::Ko, false) => "언어: 자동 (보내신 메시지의 언어로 답합니다).\n고정하려면 /language ko 또는 /language en".to_owned(),
                (Lang::En, true) => "Language: I answer in English.\nChange it with /language ko (한국어) or /language auto (the language you write in).".to_owned(),
                (Lang::En, false) => "Language: automatic (I answer in the language you write in).\nFix it with /language en or /language ko (한국어).".to_owned(),
            };
            reply.finish(text).await;
            return Ok(());
        };
        let Some(choice) = Choice::parse(&wanted) else {
            let wanted = escape_markdown(wanted.trim());
            reply
                .finish(format!(
                    "I don't speak \"{wanted}\" yet. Choose /language en (English), /language ko (한국어) or /language auto.\n\
                     \"{wanted}\"은(는) 아직 지원하지 않습니다. /language ko, /language en 또는 /language auto 중에서 골라 주세요."
                ))
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
            Choice::Fixed(Lang::Ko) => "이제 한국어로 답합니다.",
            Choice::Fixed(Lang::En) => "I will answer in English from now on.",
            Choice::Auto => match self.lang_of(message, None) {
                Lang::Ko => "이제 보내신 메시지의 언어로 답합니다.",
                Lang::En => "I will answer in the language you write in.",
            },
        };
        reply.finish(text).await;
        Ok(())
    }
}
