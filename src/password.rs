//! Password hashing with argon2id.
//!
//! Parameters: 19 MiB memory, 2 passes, 1 lane (the OWASP minimum for argon2id), which
//! verifies in tens of milliseconds here: well under the 300 ms budget for sign-in while
//! still costly for an attacker with a stolen database. Hashing always runs on the
//! blocking thread pool, never on an async worker.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

#[derive(Debug, thiserror::Error)]
#[error("パスワードの処理に失敗しました")]
pub struct HashError;

pub fn hash(password: &str) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| HashError)
}

/// What an account holds before its owner sets a password through a link: matches
/// nothing, and costs nothing to make (a bulk issue makes thousands at once).
pub const UNSET: &str = "!unset";

/// True when `password` matches `stored`. A malformed stored hash (such as [`UNSET`])
/// never matches, and takes as long to refuse as a real one.
pub fn verify(password: &str, stored: &str) -> bool {
    if stored.starts_with('!') {
        verify_dummy(password);
        return false;
    }
    match PasswordHash::new(stored) {
        Ok(parsed) => hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Spends the same time as a real verification, for login IDs that do not exist, so that
/// response times do not tell which IDs are real.
pub fn verify_dummy(password: &str) {
    // A fixed, valid argon2id hash of a random string with our parameters.
    const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Lq8e3C8WhvrLQr0YwQ9c2m3x8hWcH0Yk2gq2pP4t7aE";
    let _ = verify(password, DUMMY);
}

/// A readable random password for demo accounts and temporary passwords: 16 characters
/// without look-alikes (0/O, 1/l/I).
pub fn generate() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..16)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let h = hash("correct horse battery staple").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse battery staple", &h));
        assert!(!verify("correct horse battery stapl", &h));
        assert!(!verify("anything", "not a hash"));
        assert!(!verify("", UNSET) && !verify(UNSET, UNSET));
        verify_dummy("anything");
    }

    #[test]
    fn generated_passwords_differ() {
        let a = generate();
        assert_eq!(a.chars().count(), 16);
        assert_ne!(a, generate());
    }
}
