//! Building responses: JSON bodies, `{"message": ...}` errors, empty answers.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::UnsyncBoxBody};
use hyper::{Response, StatusCode, header};
use serde::Serialize;
use std::convert::Infallible;

/// The body of every admin response: whole or streamed.
pub(crate) type Body = UnsyncBoxBody<Bytes, Infallible>;

/// A body holding `bytes`.
pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed_unsync()
}

/// `status` with `bytes` of the given content type.
pub(crate) fn with_type(
    status: StatusCode,
    content_type: &str,
    bytes: impl Into<Bytes>,
) -> Response<Body> {
    let mut response = Response::new(full(bytes));
    *response.status_mut() = status;
    if let Ok(value) = content_type.parse() {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}

/// `status` with `value` as JSON.
pub(crate) fn json(status: StatusCode, value: &impl Serialize) -> Response<Body> {
    match serde_json::to_vec(value) {
        Ok(bytes) => with_type(status, "application/json", bytes),
        Err(e) => message(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// `status` with `{"message": text}`, the shape Clash APIs use for errors.
pub(crate) fn message(status: StatusCode, text: &str) -> Response<Body> {
    json(status, &serde_json::json!({ "message": text }))
}

/// `status` with no body.
pub(crate) fn empty(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(full(Bytes::new()));
    *response.status_mut() = status;
    response
}

/// `401` as sing-box and mihomo send it.
pub(crate) fn unauthorized() -> Response<Body> {
    message(StatusCode::UNAUTHORIZED, "Unauthorized")
}

/// `404` for a path no route serves.
pub(crate) fn not_found() -> Response<Body> {
    message(StatusCode::NOT_FOUND, "Resource not found")
}
