//! Standard Webhooks signatures: HMAC-SHA256 over `<webhook-id>.<webhook-timestamp>.<body>`
//! with the secret's bytes, sent base64-encoded as `v1,<signature>` in `webhook-signature`.

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Header naming the message; the same on every attempt, so receivers can drop repeats.
pub const ID_HEADER: &str = "webhook-id";
/// Header with the attempt's Unix time in seconds.
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// Header with the signatures, space-separated, each `v1,<base64>`.
pub const SIGNATURE_HEADER: &str = "webhook-signature";

/// The `webhook-signature` value of `body` sent as message `id` at `timestamp` (Unix seconds)
/// with `secret` (the bytes after `whsec_`, base64-decoded).
pub fn sign(secret: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let content = format!("{id}.{timestamp}.{body}");
    let tag = hmac::sign(&key, content.as_bytes());
    format!("v1,{}", STANDARD.encode(tag.as_ref()))
}

/// A new signing secret: `whsec_` and base64 of 32 random bytes.
///
/// # Errors
/// When the system has no random bytes to give.
pub fn new_secret() -> Result<String, aws_lc_rs::error::Unspecified> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes)?;
    Ok(format!(
        "{}{}",
        crate::config::alerts::SECRET_PREFIX,
        STANDARD.encode(bytes)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_as_the_standard_webhooks_reference_does() {
        // The example of the Standard Webhooks specification's reference libraries.
        let secret = STANDARD.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let signature = sign(
            &secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn a_new_secret_is_thirty_two_random_bytes_behind_the_prefix() {
        let a = new_secret().unwrap();
        let b = new_secret().unwrap();
        assert_ne!(a, b);
        let bytes = crate::config::alerts::parse_secret("secret", &a).unwrap();
        assert_eq!(bytes.len(), 32);
    }
}
