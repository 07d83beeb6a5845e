//! Relay cursors: opaque to clients, checked when they come back.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

use super::error::ApiError;
use crate::domain::{Cursor, PageRequest};

/// Encodes a cursor for the row with sort value `key` and id `id` under `ordering`.
pub fn encode(ordering: &str, key: &str, id: Uuid) -> String {
    let json = serde_json::json!([ordering, key, id]);
    URL_SAFE_NO_PAD.encode(json.to_string())
}

/// Decodes a client's `after` for a list ordered by `ordering`.
pub fn decode(ordering: &str, text: &str) -> Result<Cursor, ApiError> {
    let invalid = || ApiError::BadUserInput("after is not a cursor issued by this API".to_owned());
    let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| invalid())?;
    let (tag, key, id): (String, String, Uuid) =
        serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if tag != ordering {
        return Err(ApiError::BadUserInput(
            "after is a cursor of a list in another order; use cursors with the orderBy they came from"
                .to_owned(),
        ));
    }
    Ok(Cursor {
        ordering: tag,
        key,
        id,
    })
}

/// Checks `first` and `after` of a connection field ordered by `ordering`.
pub fn page_request(
    ordering: &str,
    first: Option<i32>,
    after: Option<String>,
) -> Result<PageRequest, ApiError> {
    let after = after.map(|text| decode(ordering, &text)).transpose()?;
    Ok(PageRequest::new(first.map(i64::from), after)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips() {
        let id = Uuid::from_u128(7);
        let text = encode("dn", "Zoë Ødegaard", id);
        let cursor = decode("dn", &text).unwrap();
        assert_eq!((cursor.key.as_str(), cursor.id), ("Zoë Ødegaard", id));
    }

    #[test]
    fn garbage_cursor_is_bad_user_input() {
        assert!(matches!(
            decode("dn", "not base64!"),
            Err(ApiError::BadUserInput(_))
        ));
        let wrong_shape = URL_SAFE_NO_PAD.encode("{\"a\":1}");
        assert!(matches!(
            decode("dn", &wrong_shape),
            Err(ApiError::BadUserInput(_))
        ));
    }

    #[test]
    fn cursor_of_another_ordering_is_refused() {
        let text = encode("upn", "a@b", Uuid::nil());
        assert!(matches!(
            decode("dn", &text),
            Err(ApiError::BadUserInput(_))
        ));
    }
}
