//! Which language to answer a person in: their `/language` setting, else their app's
//! language as the platform reports it, else the owner's `HEARTH_LANGUAGE`; `auto`
//! everywhere means "the language the person writes in".

use serde::{Deserialize, Serialize};

/// A language Hearth speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// English.
    En,
    /// Korean.
    Ko,
}

impl Lang {
    /// Every language, for lists and checks.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Ko];

    /// The code: `en`, `ko`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ko => "ko",
        }
    }

    /// The name in the language itself.
    pub fn name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Ko => "한국어",
        }
    }

    /// The language of a code or locale (`ko`, `ko-KR`, `ko_KR.UTF-8`, `English`, `한국어`);
    /// `None` for one Hearth does not speak.
    pub fn from_code(code: &str) -> Option<Lang> {
        let code = code.trim().to_ascii_lowercase();
        let base = code.split(['-', '_', '.']).next().unwrap_or_default();
        match base {
            "en" | "english" | "영어" => Some(Lang::En),
            "ko" | "kr" | "korean" | "한국어" | "한글" => Some(Lang::Ko),
            _ => None,
        }
    }
}

/// What a person or the owner chose: one language, or `auto`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Choice {
    /// Follow the person: their app's language for the bot's own words, the language of
    /// their message for the model's answer.
    #[default]
    Auto,
    /// Always this language.
    Fixed(Lang),
}

impl Choice {
    /// `auto`, or a language code.
    pub fn parse(text: &str) -> Option<Choice> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("auto") || text == "자동" {
            Some(Choice::Auto)
        } else {
            Lang::from_code(text).map(Choice::Fixed)
        }
    }
}

/// The language for the bot's own words to a person: their setting (a stored code), else
/// their app's `locale`, else the owner's default, else English.
pub fn for_person(setting: Option<&str>, locale: Option<&str>, default: Choice) -> Lang {
    setting
        .and_then(Lang::from_code)
        .or_else(|| locale.and_then(Lang::from_code))
        .or(match default {
            Choice::Fixed(lang) => Some(lang),
            Choice::Auto => None,
        })
        .unwrap_or(Lang::En)
}

/// The model's instruction about the answer's language: a fixed language when the person
/// (or, failing that, the owner) chose one, else the language of the message.
pub fn answer_instruction(setting: Option<&str>, default: Choice) -> String {
    let fixed = setting.and_then(Lang::from_code).or(match default {
        Choice::Fixed(lang) => Some(lang),
        Choice::Auto => None,
    });
    match fixed {
        Some(Lang::Ko) => "Answer in Korean (한국어), whatever language the context is in, \
                           unless the person asks for another language."
            .to_owned(),
        Some(Lang::En) => "Answer in English, whatever language the context is in, unless \
                           the person asks for another language."
            .to_owned(),
        None => "Answer in the language the person writes in (for example Korean to a \
                 message in Korean), whatever language the context is in."
            .to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_locales_read_as_languages() {
        for code in ["ko", "ko-KR", "ko_KR.UTF-8", "KO", "korean", "한국어"] {
            assert_eq!(Lang::from_code(code), Some(Lang::Ko), "{code}");
        }
        for code in ["en", "en-US", "en_GB.UTF-8", "English"] {
            assert_eq!(Lang::from_code(code), Some(Lang::En), "{code}");
        }
        for code in ["", "C.UTF-8", "de", "fr-FR", "x"] {
            assert_eq!(Lang::from_code(code), None, "{code}");
        }
        assert_eq!(Choice::parse("auto"), Some(Choice::Auto));
        assert_eq!(Choice::parse("ko"), Some(Choice::Fixed(Lang::Ko)));
        assert_eq!(Choice::parse("klingon"), None);
    }

    #[test]
    fn the_setting_wins_then_the_app_then_the_owner() {
        let owner_ko = Choice::Fixed(Lang::Ko);
        assert_eq!(for_person(Some("en"), Some("ko"), owner_ko), Lang::En);
        assert_eq!(for_person(None, Some("ko-KR"), Choice::Auto), Lang::Ko);
        assert_eq!(for_person(None, Some("de"), owner_ko), Lang::Ko);
        assert_eq!(for_person(None, None, Choice::Auto), Lang::En);
        assert!(answer_instruction(Some("ko"), Choice::Auto).starts_with("Answer in Korean"));
        assert!(answer_instruction(None, Choice::Auto).contains("language the person writes in"));
        assert!(answer_instruction(None, Choice::Fixed(Lang::En)).starts_with("Answer in English"));
    }
}
