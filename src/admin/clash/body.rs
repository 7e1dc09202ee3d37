//! Reading a request's JSON body: bounded in size and in time, so a slow or huge body cannot
//! hold the server.

use crate::admin::reply::{self, Body};
use http_body_util::{BodyExt, Limited};
use hyper::{Request, Response, StatusCode, body::Incoming};
use serde::de::DeserializeOwned;
use std::time::Duration;

/// The largest request body the API reads.
const MAX_BODY: usize = 64 * 1024;

/// How long a request body may take to arrive.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// The request's body as `T`; an empty body reads as `T::default()`. Errors are the responses
/// to send.
pub(crate) async fn json<T: DeserializeOwned + Default>(
    request: Request<Incoming>,
) -> Result<T, Response<Body>> {
    let collect = Limited::new(request.into_body(), MAX_BODY).collect();
    let bytes = match tokio::time::timeout(BODY_TIMEOUT, collect).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(_)) => {
            return Err(reply::message(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Body too large",
            ));
        }
        Err(_) => return Err(reply::message(StatusCode::REQUEST_TIMEOUT, "Body too slow")),
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| reply::message(StatusCode::BAD_REQUEST, &format!("Body invalid: {e}")))
}
