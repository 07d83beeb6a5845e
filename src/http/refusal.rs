//! The HTTP answer refusing a whole request: the status, code and body that
//! [`ApiError`](crate::graphql::error::ApiError) chooses, with the headers each refusal needs
//! (`WWW-Authenticate`, `Retry-After`, `Allow`). Handlers return it through `?`.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};

use crate::graphql::error::ApiError;

/// A refused request, answered as a GraphQL-shaped error body.
#[derive(Debug)]
pub struct Refusal {
    error: ApiError,
    request_id: Option<String>,
}

impl Refusal {
    /// The refusal, with the request id added to an internal error's extensions.
    pub fn with_request_id(error: ApiError, request_id: impl ToString) -> Self {
        Refusal {
            error,
            request_id: Some(request_id.to_string()),
        }
    }
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Self {
        Refusal {
            error,
            request_id: None,
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.error.message())
    }
}

impl ResponseError for Refusal {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.error.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        match &self.error {
            ApiError::Unauthenticated(_) => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            ApiError::RateLimited {
                retry_after_secs, ..
            } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            ApiError::MethodNotAllowed(_) => {
                response.insert_header((header::ALLOW, "POST"));
            }
            _ => {}
        }
        response.json(self.error.http_body(self.request_id.as_deref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graphql::error::Limit;
    use actix_web::body::MessageBody;

    /// A response header a refusal must carry: name and value.
    type Header = Option<(&'static str, &'static str)>;

    /// Every refusal the service answers with: its HTTP status and `extensions.code`, as the
    /// README's table lists them.
    #[test]
    fn each_refusal_has_its_status_code_and_headers() {
        let limit = Limit::new("request body size in bytes", 300, 200);
        let cases: Vec<(ApiError, u16, &str, Header)> = vec![
            (
                ApiError::BadUserInput("x".into()),
                400,
                "BAD_USER_INPUT",
                None,
            ),
            (
                ApiError::unauthenticated("token expired"),
                401,
                "UNAUTHENTICATED",
                Some(("www-authenticate", "Bearer")),
            ),
            (ApiError::without_role(), 403, "FORBIDDEN", None),
            (ApiError::NotFound("x".into()), 404, "NOT_FOUND", None),
            (
                ApiError::MethodNotAllowed("x".into()),
                405,
                "BAD_USER_INPUT",
                Some(("allow", "POST")),
            ),
            (ApiError::Conflict("x".into()), 409, "CONFLICT", None),
            (
                ApiError::PayloadTooLarge(limit.clone()),
                413,
                "OPERATION_LIMIT_EXCEEDED",
                None,
            ),
            (
                ApiError::RateLimited {
                    message: "x".into(),
                    retry_after_secs: 3,
                },
                429,
                "RATE_LIMITED",
                Some(("retry-after", "3")),
            ),
            (
                ApiError::OperationLimit(limit),
                400,
                "OPERATION_LIMIT_EXCEEDED",
                None,
            ),
            (
                ApiError::PersistedQueryNotFound("PersistedQueryNotFound".into()),
                200,
                "PERSISTED_QUERY_NOT_FOUND",
                None,
            ),
            (
                ApiError::PersistedQueryNotSupported("x".into()),
                200,
                "PERSISTED_QUERY_NOT_SUPPORTED",
                None,
            ),
            (
                ApiError::Internal("secret cause".into()),
                500,
                "INTERNAL_SERVER_ERROR",
                None,
            ),
        ];
        let mut codes: Vec<&str> = Vec::new();
        for (error, status, code, header) in cases {
            let response = Refusal::with_request_id(error, "req-1").error_response();
            assert_eq!(response.status().as_u16(), status, "{code}");
            if let Some((name, value)) = header {
                assert_eq!(response.headers().get(name).unwrap(), value, "{code}");
            }
            let body = response.into_body().try_into_bytes().unwrap();
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(body["errors"][0]["extensions"]["code"], code, "{body}");
            assert!(!body.to_string().contains("secret cause"), "{body}");
            if code == "INTERNAL_SERVER_ERROR" {
                assert_eq!(body["errors"][0]["extensions"]["requestId"], "req-1");
            }
            if status == 429 {
                assert_eq!(body["errors"][0]["extensions"]["retryAfter"], 3);
            }
            if status == 413 {
                assert_eq!(body["errors"][0]["extensions"]["max"], 200);
            }
            if !codes.contains(&code) {
                codes.push(code);
            }
        }
        // The DESIGN.md list, plus Apollo's PERSISTED_QUERY_NOT_SUPPORTED for a server with
        // persisted queries off.
        codes.sort_unstable();
        assert_eq!(
            codes,
            [
                "BAD_USER_INPUT",
                "CONFLICT",
                "FORBIDDEN",
                "INTERNAL_SERVER_ERROR",
                "NOT_FOUND",
                "OPERATION_LIMIT_EXCEEDED",
                "PERSISTED_QUERY_NOT_FOUND",
                "PERSISTED_QUERY_NOT_SUPPORTED",
                "RATE_LIMITED",
                "UNAUTHENTICATED",
            ]
        );
    }
}
