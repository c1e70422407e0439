//! Which language to answer a person in: their `/language` setting, else their app's
//! language as the platform reports it, else the owner's `HEARTH_LANGUAGE`; `auto`
//! everywhere means "the language the person writes in".
//!
//! The bot's own words come from message catalogs in Fluent (Project Fluent, the format
//! Firefox uses): `bot-core/i18n/en.ftl` and `ko.ftl`, files translators can edit, built
//! into the binary. [`t`] and [`tr`] look a message up; a key missing in one language
//! falls back to English (a test keeps the catalogs in step).

use std::sync::LazyLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use serde::{Deserialize, Serialize};

const CATALOG_EN: &str = include_str!("../i18n/en.ftl");
const CATALOG_KO: &str = include_str!("../i18n/ko.ftl");

fn bundle(lang: &str, source: &'static str) -> FluentBundle<FluentResource> {
    let id: unic_langid::LanguageIdentifier = lang.parse().expect("a valid language id");
    let mut bundle = FluentBundle::new_concurrent(vec![id]);
    // No Unicode isolation marks around variables: chat apps show them as stray characters.
    bundle.set_use_isolating(false);
    let resource =
        FluentResource::try_new(source.to_owned()).unwrap_or_else(|(resource, errors)| {
            tracing::error!(language = lang, ?errors, "the message catalog has errors");
            resource
        });
    if let Err(errors) = bundle.add_resource(resource) {
        tracing::error!(
            language = lang,
            ?errors,
            "the message catalog has duplicate keys"
        );
    }
    bundle
}

static BUNDLES: LazyLock<[FluentBundle<FluentResource>; 2]> =
    LazyLock::new(|| [bundle("en", CATALOG_EN), bundle("ko", CATALOG_KO)]);

fn bundle_of(lang: Lang) -> &'static FluentBundle<FluentResource> {
    &BUNDLES[match lang {
        Lang::En => 0,
        Lang::Ko => 1,
    }]
}

/// The message `key` in `lang`, without variables.
pub fn t(lang: Lang, key: &str) -> String {
    tr(lang, key, &[])
}

/// The message `key` in `lang` with its variables (`("name", "Alice")`; a whole number
/// written plainly is a number, for plural rules). Falls back to English, then to the key itself.
pub fn tr(lang: Lang, key: &str, args: &[(&str, &str)]) -> String {
    let mut fluent_args = FluentArgs::new();
    for (name, value) in args {
        // A number only when it reads back the same ("3", not "007" or "1.50"): plural
        // rules need numbers, and a person's text must come out exactly as written.
        let value = match value.parse::<i64>() {
            // Fluent keeps numbers as f64: larger ones (a Discord id) stay text.
            Ok(n) if n.to_string() == *value && n.unsigned_abs() < (1 << 53) => {
                FluentValue::from(n)
            }
            _ => FluentValue::from(value.to_string()),
        };
        fluent_args.set(*name, value);
    }
    for lang in [lang, Lang::En] {
        let bundle = bundle_of(lang);
        if let Some(pattern) = bundle.get_message(key).and_then(|m| m.value()) {
            let mut errors = Vec::new();
            let text = bundle.format_pattern(pattern, Some(&fluent_args), &mut errors);
            if !errors.is_empty() {
                tracing::warn!(
                    key,
                    language = lang.code(),
                    ?errors,
                    "a message did not format cleanly"
                );
            }
            return text.into_owned();
        }
        tracing::warn!(
            key,
            language = lang.code(),
            "no such message in the catalog"
        );
    }
    key.to_owned()
}

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
    /// The language when one is fixed; `None` for `auto`.
    pub fn fixed(self) -> Option<Lang> {
        match self {
            Choice::Fixed(lang) => Some(lang),
            Choice::Auto => None,
        }
    }

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
        .or(default.fixed())
        .unwrap_or(Lang::En)
}

/// The model's instruction about the answer's language: a fixed language when the person
/// (or, failing that, the owner) chose one, else the language of the message.
pub fn answer_instruction(setting: Option<&str>, default: Choice) -> String {
    let fixed = setting.and_then(Lang::from_code).or(default.fixed());
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

    fn keys(source: &str) -> std::collections::BTreeSet<String> {
        let resource = FluentResource::try_new(source.to_owned()).expect("the catalog parses");
        resource
            .entries()
            .filter_map(|entry| match entry {
                fluent_syntax::ast::Entry::Message(m) => Some(m.id.name.to_owned()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn every_message_is_in_every_language() {
        let en = keys(CATALOG_EN);
        let ko = keys(CATALOG_KO);
        let only_en: Vec<_> = en.difference(&ko).collect();
        let only_ko: Vec<_> = ko.difference(&en).collect();
        assert!(only_en.is_empty(), "missing in ko.ftl: {only_en:?}");
        assert!(only_ko.is_empty(), "missing in en.ftl: {only_ko:?}");
        assert!(en.len() > 30);
    }

    #[test]
    fn every_key_the_code_uses_is_in_the_catalogs() {
        // Calls look like t(lang, KEY) and tr(lang, KEY, ARGS), KEY a string literal.
        let pattern = regex::Regex::new(r#"\btr?\(\s*[A-Za-z_.():]+,\s*"([a-z0-9-]+)""#).unwrap();
        let en = keys(CATALOG_EN);
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut used = 0;
        let mut stack = vec![root.join("src")];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for c in pattern.captures_iter(&text) {
                        used += 1;
                        assert!(
                            en.contains(&c[1]),
                            "{}: no message {}",
                            path.display(),
                            &c[1]
                        );
                    }
                }
            }
        }
        assert!(used > 10, "{used} uses found");
    }

    #[test]
    fn messages_format_with_their_variables_in_both_languages() {
        assert_eq!(
            tr(Lang::En, "unknown-command", &[("name", "frobnicate")]),
            "I don't know the command /frobnicate. Send /help to see what I can do."
        );
        assert_eq!(
            tr(Lang::Ko, "model-timeout", &[("seconds", "300")]),
            "모델이 300초 안에 답하지 않았어요. 아직 불러오는 중일 수 있으니 잠시 후 다시 시도해 주세요."
        );
        assert_eq!(
            tr(Lang::En, "reminder-fired", &[("text", "007")]),
            "⏰ Reminder: 007"
        );
        assert_eq!(
            tr(Lang::En, "timezone-moved", &[("count", "1")]),
            "1 repeating reminder now follows it."
        );
        // A Discord id is larger than an f64 holds exactly: it must come out as written.
        assert!(
            tr(
                Lang::Ko,
                "refused",
                &[("id", "100000000000000061"), ("setting", "X")]
            )
            .contains("100000000000000061")
        );
        let missing = "no-such-key";
        assert_eq!(t(Lang::Ko, missing), missing);
    }

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
