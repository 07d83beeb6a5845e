//! Reading a request body up to a limit, refusing it as soon as it is known to be larger.

use actix_web::http::header;
use actix_web::{HttpRequest, web};
use futures_util::StreamExt;

/// Why a body was not read.
pub enum BodyError {
    /// Larger than allowed: the declared length, or what was read before giving up.
    TooLarge(String),
    /// The connection failed while reading.
    Read(String),
}

/// Reads the body, refusing it as soon as it is known to be larger than `max` bytes (from
/// `Content-Length`, before reading anything, or while reading a chunked body).
pub async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    max: usize,
) -> Result<bytes::Bytes, BodyError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(length) = declared
        && length > max as u64
    {
        return Err(BodyError::TooLarge(length.to_string()));
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| BodyError::Read(e.to_string()))?;
        if body.len() + chunk.len() > max {
            return Err(BodyError::TooLarge(format!("more than {max}")));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}
