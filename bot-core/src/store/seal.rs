//! Encryption at rest: a key per person, wrapped by the owner's master key.
//!
//! - [`MasterKey`]: 32 random bytes in a file the owner keeps (`HEARTH_MASTER_KEY_FILE`,
//!   written by `hearth keygen` as 64 hex digits, mode 0600). It never touches the database.
//! - [`Keyring`]: every person's own 32-byte key, each sealed with the master key (the
//!   person's id as associated data, so a wrapped key cannot be moved to another person). It
//!   lives in one small file beside the database, rewritten whole (temporary file, fsync,
//!   rename) on every change. Keeping it out of the log-structured database is what makes
//!   destroying a key real: sled keeps old values in its log until it reuses the space, a
//!   file replaced by rename keeps nothing.
//! - [`PersonKey`]: seals and opens values with XChaCha20-Poly1305 (random 24-byte nonces;
//!   the value's tree and key as associated data, so a sealed value cannot be replayed in
//!   another place) and derives blind names (HMAC-SHA-256) for keys that would otherwise
//!   carry a person's words.
//!
//! Destroying a person's key (crypto-shredding) leaves every copy of their values that the
//! database's log or a later-taken copy might still hold unreadable.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::StoreError;

/// The keyring file's name, beside the database directory.
pub const KEYRING_FILE: &str = "keyring.json";

/// What the keyring's check value says, sealed with the master key.
const CHECK: &[u8] = b"hearth keyring";

const NONCE: usize = 24;

/// Why a key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The master key file could not be read or is not 64 hex digits.
    #[error("{0}")]
    MasterKey(String),
    /// The keyring was sealed with another master key.
    #[error(
        "the master key does not open this data directory's keyring (is HEARTH_MASTER_KEY_FILE the key this data was encrypted with?)"
    )]
    WrongMasterKey,
    /// The keyring file is damaged.
    #[error("the keyring {0} cannot be read: {1}")]
    Keyring(String, String),
}

impl From<KeyError> for StoreError {
    fn from(e: KeyError) -> Self {
        StoreError::Unavailable(e.to_string())
    }
}

/// 32 secret bytes.
#[derive(Clone)]
struct Secret(Zeroizing<[u8; 32]>);

impl Secret {
    fn random() -> Result<Self, KeyError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::fill(bytes.as_mut())
            .map_err(|e| KeyError::MasterKey(format!("the system has no random source: {e}")))?;
        Ok(Secret(bytes))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.0.as_ref().into())
    }

    fn seal(&self, aad: &[u8], plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE];
        // Without a random source nothing could have been sealed so far (keys are random
        // too); a failure here is a broken system, and a fixed nonce would be worse.
        getrandom::fill(&mut nonce).expect("the system's random source failed");
        let sealed = self
            .cipher()
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plain, aad })
            .expect("XChaCha20-Poly1305 seals any length this store writes");
        let mut out = Vec::with_capacity(NONCE + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    fn open(&self, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE {
            return None;
        }
        let (nonce, body) = sealed.split_at(NONCE);
        self.cipher()
            .decrypt(XNonce::from_slice(nonce), Payload { msg: body, aad })
            .ok()
    }
}

/// The owner's master key.
#[derive(Clone)]
pub struct MasterKey(Secret);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(…)")
    }
}

impl MasterKey {
    /// A new random key.
    pub fn generate() -> Result<Self, KeyError> {
        Secret::random().map(MasterKey)
    }

    /// The file's text: 64 hex digits and a newline.
    pub fn to_file_text(&self) -> Zeroizing<String> {
        let mut text = Zeroizing::new(String::with_capacity(65));
        for byte in self.0.0.iter() {
            text.push_str(&format!("{byte:02x}"));
        }
        text.push('\n');
        text
    }

    /// Reads the key from the text of a key file (surrounding whitespace ignored).
    pub fn from_text(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(KeyError::MasterKey(
                "the master key file must hold 64 hex digits (write one with `hearth keygen`)"
                    .into(),
            ));
        }
        let mut bytes = Zeroizing::new([0u8; 32]);
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16)
                .map_err(|_| KeyError::MasterKey("the master key is not hex".into()))?;
        }
        Ok(MasterKey(Secret(bytes)))
    }

    /// Reads the key file.
    pub fn read(path: &Path) -> Result<Self, KeyError> {
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
            KeyError::MasterKey(format!(
                "cannot read the master key file {}: {e}",
                path.display()
            ))
        })?);
        Self::from_text(&text)
    }

    /// Writes a new key file, readable by its owner only; refuses to replace one (a lost
    /// key is lost data).
    pub fn write_new(&self, path: &Path) -> Result<(), KeyError> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(|e| {
            KeyError::MasterKey(if e.kind() == std::io::ErrorKind::AlreadyExists {
                format!(
                    "{} already exists; a master key is never overwritten (data sealed with it would be lost)",
                    path.display()
                )
            } else {
                format!("cannot create {}: {e}", path.display())
            })
        })?;
        file.write_all(self.to_file_text().as_bytes())
            .and_then(|_| file.sync_all())
            .map_err(|e| KeyError::MasterKey(format!("cannot write {}: {e}", path.display())))
    }
}

/// One person's key.
#[derive(Clone)]
pub struct PersonKey(Secret);

impl PersonKey {
    /// Seals `plain`; `aad` names where it is stored.
    pub fn seal(&self, aad: &[u8], plain: &[u8]) -> Vec<u8> {
        self.0.seal(aad, plain)
    }

    /// Opens what [`seal`](Self::seal) gave with the same `aad`; `None` when it was sealed
    /// with another key, for another place, or altered.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        self.0.open(aad, sealed)
    }

    /// A name that stands for `text` in a key without revealing it (hex HMAC-SHA-256).
    pub fn blind(&self, text: &str) -> String {
        let mut mac = <Hmac<sha2::Sha256> as hmac::KeyInit>::new_from_slice(self.0.0.as_ref())
            .expect("HMAC takes a key of any length");
        mac.update(b"hearth name\0");
        mac.update(text.as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

#[derive(Serialize, Deserialize)]
struct KeyringFile {
    format: String,
    /// [`CHECK`] sealed with the master key: tells a wrong master key from a damaged file.
    check: String,
    /// Person -> their key, sealed with the master key (hex).
    keys: BTreeMap<String, String>,
    /// People whose key was destroyed and whose values are still being removed: only their
    /// values are ever swept. A value whose person simply has no key (a keyring that does not
    /// belong to this data) is left alone.
    #[serde(default)]
    erasing: BTreeSet<String>,
}

/// Every person's key, kept in one file.
#[derive(Clone)]
pub struct Keyring {
    inner: Arc<KeyringInner>,
}

struct KeyringInner {
    path: PathBuf,
    master: MasterKey,
    keys: RwLock<BTreeMap<String, PersonKey>>,
    erasing: std::sync::Mutex<BTreeSet<String>>,
    /// Serialises writes of the file.
    writing: std::sync::Mutex<()>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

impl Keyring {
    /// Opens the keyring at `path` with `master`, creating an empty one when there is none.
    pub fn open(path: &Path, master: MasterKey) -> Result<Self, KeyError> {
        let damaged = |why: String| KeyError::Keyring(path.display().to_string(), why);
        let mut keys = BTreeMap::new();
        let mut erasing = BTreeSet::new();
        match std::fs::read(path) {
            Ok(raw) => {
                let file: KeyringFile =
                    serde_json::from_slice(&raw).map_err(|e| damaged(e.to_string()))?;
                if file.format != "hearth-keyring/1" {
                    return Err(damaged(format!("unknown format {}", file.format)));
                }
                let check = unhex(&file.check).ok_or_else(|| damaged("check".into()))?;
                if master.0.open(b"check", &check).as_deref() != Some(CHECK) {
                    return Err(KeyError::WrongMasterKey);
                }
                erasing = file.erasing;
                for (user, wrapped) in file.keys {
                    let bytes = unhex(&wrapped)
                        .and_then(|w| master.0.open(user.as_bytes(), &w))
                        .map(Zeroizing::new)
                        .filter(|b| b.len() == 32)
                        .ok_or_else(|| damaged(format!("the key of {user}")))?;
                    let mut secret = Zeroizing::new([0u8; 32]);
                    secret.copy_from_slice(&bytes);
                    keys.insert(user, PersonKey(Secret(secret)));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(damaged(e.to_string())),
        }
        let ring = Keyring {
            inner: Arc::new(KeyringInner {
                path: path.to_owned(),
                master,
                keys: RwLock::new(keys),
                erasing: std::sync::Mutex::new(erasing),
                writing: std::sync::Mutex::new(()),
            }),
        };
        if !path.exists() {
            ring.save().map_err(|e| damaged(e.to_string()))?;
        }
        Ok(ring)
    }

    /// Where the keyring is kept.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The person's key, if they have one.
    pub fn get(&self, user: &str) -> Option<PersonKey> {
        self.read().get(user).cloned()
    }

    /// The person's key, made (and saved before it is handed out) if they have none.
    pub fn get_or_create(&self, user: &str) -> Result<PersonKey, StoreError> {
        if let Some(key) = self.get(user) {
            return Ok(key);
        }
        let _writing = self.lock_writing();
        if let Some(key) = self.get(user) {
            return Ok(key);
        }
        let key = PersonKey(Secret::random()?);
        self.write().insert(user.to_owned(), key.clone());
        if let Err(e) = self.save() {
            self.write().remove(user);
            return Err(StoreError::Unavailable(format!(
                "cannot save the keyring: {e}"
            )));
        }
        Ok(key)
    }

    /// Destroys the person's key: the file is rewritten without it before this returns,
    /// and with the person marked as being erased until [`erased`](Self::erased) says the
    /// values are gone. Whether there was a key.
    pub fn destroy(&self, user: &str) -> Result<bool, StoreError> {
        let _writing = self.lock_writing();
        let old = self.write().remove(user);
        self.lock_erasing().insert(user.to_owned());
        if let Err(e) = self.save() {
            if let Some(old) = old.clone() {
                self.write().insert(user.to_owned(), old);
            }
            self.lock_erasing().remove(user);
            return Err(StoreError::Unavailable(format!(
                "cannot save the keyring: {e}"
            )));
        }
        Ok(old.is_some())
    }

    /// The person's values are all removed: they are no longer marked as being erased.
    pub fn erased(&self, user: &str) -> Result<(), StoreError> {
        let _writing = self.lock_writing();
        if self.lock_erasing().remove(user) {
            self.save()
                .map_err(|e| StoreError::Unavailable(format!("cannot save the keyring: {e}")))?;
        }
        Ok(())
    }

    /// The people whose erase has begun and not finished.
    pub fn erasing(&self) -> Vec<String> {
        self.lock_erasing().iter().cloned().collect()
    }

    fn lock_erasing(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        self.inner.erasing.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The people who have a key.
    pub fn people(&self) -> Vec<String> {
        self.read().keys().cloned().collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, PersonKey>> {
        self.inner.keys.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, PersonKey>> {
        self.inner.keys.write().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_writing(&self) -> std::sync::MutexGuard<'_, ()> {
        self.inner.writing.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes the whole file: temporary file (0600), fsync, rename, fsync of the directory.
    fn save(&self) -> std::io::Result<()> {
        let master = &self.inner.master;
        let file = KeyringFile {
            format: "hearth-keyring/1".into(),
            check: hex(&master.0.seal(b"check", CHECK)),
            keys: self
                .read()
                .iter()
                .map(|(user, key)| {
                    (
                        user.clone(),
                        hex(&master.0.seal(user.as_bytes(), &key.0.0[..])),
                    )
                })
                .collect(),
            erasing: self.lock_erasing().clone(),
        };
        let body = serde_json::to_vec_pretty(&file).map_err(std::io::Error::other)?;
        let path = &self.inner.path;
        let dir = path.parent().unwrap_or(Path::new("."));
        let tmp = path.with_extension("json.tmp");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut out = options.open(&tmp)?;
        out.write_all(&body)?;
        out.sync_all()?;
        drop(out);
        std::fs::rename(&tmp, path)?;
        if let Ok(dir) = std::fs::File::open(dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    }
}

/// Owner of a stored value, by tree: `None` for values that belong to no one person.
pub(crate) fn owner_of(tree: &[u8], key: &[u8]) -> Option<String> {
    let until_nul = |k: &[u8]| {
        let end = k.iter().position(|&b| b == 0).unwrap_or(k.len());
        String::from_utf8(k[..end].to_vec()).ok()
    };
    match tree {
        // Keyed by scope (`platform:chat:user`), then \0 and a number for turns.
        b"turns" | b"conversations" => until_nul(key).and_then(|scope| user_of_scope(&scope)),
        b"settings" | b"reminder_ids" => String::from_utf8(key.to_vec()).ok(),
        b"memories" | b"memory_vectors" | b"reminders" | b"documents" | b"inbox" => until_nul(key),
        _ => None,
    }
}

/// The person (`platform:user`) whose conversation `scope` (`platform:chat:user`) is.
pub fn user_of_scope(scope: &str) -> Option<String> {
    let (platform, rest) = scope.split_once(':')?;
    let (_, user) = rest.rsplit_once(':')?;
    Some(format!("{platform}:{user}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_person_key_opens_only_what_it_sealed_where_it_was_sealed() {
        let dir = tempfile::tempdir().unwrap();
        let ring = Keyring::open(
            &dir.path().join(KEYRING_FILE),
            MasterKey::generate().unwrap(),
        )
        .unwrap();
        let alice = ring.get_or_create("telegram:1").unwrap();
        let bob = ring.get_or_create("telegram:2").unwrap();
        let sealed = alice.seal(b"memories\0k", b"likes tea");
        assert!(!sealed.windows(9).any(|w| w == b"likes tea"));
        assert_eq!(alice.open(b"memories\0k", &sealed).unwrap(), b"likes tea");
        assert!(alice.open(b"memories\0other", &sealed).is_none());
        assert!(bob.open(b"memories\0k", &sealed).is_none());
        assert_ne!(alice.blind("tax.pdf"), bob.blind("tax.pdf"));
        assert_eq!(alice.blind("tax.pdf"), alice.blind("tax.pdf"));
    }

    #[test]
    fn keys_survive_a_reopen_and_a_destroyed_key_is_gone_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEYRING_FILE);
        let master = MasterKey::generate().unwrap();
        let ring = Keyring::open(&path, master.clone()).unwrap();
        let alice = ring.get_or_create("telegram:1").unwrap();
        ring.get_or_create("telegram:2").unwrap();
        let sealed = alice.seal(b"a", b"secret");
        let before = std::fs::read(&path).unwrap();

        let reopened = Keyring::open(&path, master.clone()).unwrap();
        let again = reopened.get("telegram:1").unwrap();
        assert_eq!(again.open(b"a", &sealed).unwrap(), b"secret");

        assert!(reopened.destroy("telegram:1").unwrap());
        assert!(!reopened.destroy("telegram:1").unwrap());
        let after = Keyring::open(&path, master).unwrap();
        assert!(after.get("telegram:1").is_none());
        assert!(after.get("telegram:2").is_some());
        assert_ne!(before, std::fs::read(&path).unwrap());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn another_master_key_is_refused_with_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEYRING_FILE);
        Keyring::open(&path, MasterKey::generate().unwrap()).unwrap();
        let err = Keyring::open(&path, MasterKey::generate().unwrap())
            .err()
            .unwrap();
        assert!(matches!(err, KeyError::WrongMasterKey), "{err}");
    }

    #[test]
    fn master_key_files_round_trip_and_are_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let key = MasterKey::generate().unwrap();
        key.write_new(&path).unwrap();
        let read = MasterKey::read(&path).unwrap();
        assert_eq!(*read.to_file_text(), *key.to_file_text());
        assert!(key.write_new(&path).is_err());
        assert!(MasterKey::from_text("not hex").is_err());
        assert_eq!(format!("{key:?}"), "MasterKey(…)");
    }

    #[test]
    fn values_are_owned_by_the_person_their_key_names() {
        assert_eq!(
            owner_of(b"turns", b"telegram:-100:42\0\0\0\0\0\0\0\0\x01").as_deref(),
            Some("telegram:42")
        );
        assert_eq!(
            owner_of(b"memories", b"discord:7\0m3").as_deref(),
            Some("discord:7")
        );
        assert_eq!(
            owner_of(b"settings", b"telegram:42").as_deref(),
            Some("telegram:42")
        );
        assert_eq!(owner_of(b"meta", b"schema_version"), None);
    }
}
