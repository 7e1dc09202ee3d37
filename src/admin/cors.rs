//! CORS as mihomo and sing-box answer it: any origin, preflights answered before auth.

use super::reply::{self, Body};
use hyper::{HeaderMap, Method, Request, Response, StatusCode, header};

/// Methods a dashboard may use.
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// Request headers a dashboard may send.
const HEADERS: [&str; 2] = ["Authorization", "Content-Type"];

/// How long a browser may cache a preflight answer, in seconds.
const MAX_AGE: &str = "300";

/// The answer to a CORS preflight (`OPTIONS` with `Access-Control-Request-Method`), if
/// `request` is one: `200` allowing the method and headers asked for when they are allowed.
pub(crate) fn preflight<B>(request: &Request<B>) -> Option<Response<Body>> {
    let headers = request.headers();
    let asked = headers.get(header::ACCESS_CONTROL_REQUEST_METHOD)?;
    if request.method() != Method::OPTIONS || !headers.contains_key(header::ORIGIN) {
        return None;
    }
    let mut response = reply::empty(StatusCode::OK);
    let method = asked.to_str().unwrap_or("").trim().to_ascii_uppercase();
    let Some(allowed_headers) = allowed_headers(headers) else {
        return Some(response);
    };
    if !METHODS.contains(&method.as_str()) {
        return Some(response);
    }
    let out = response.headers_mut();
    out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*".parse().ok()?);
    out.insert(header::ACCESS_CONTROL_ALLOW_METHODS, method.parse().ok()?);
    if !allowed_headers.is_empty() {
        let list = allowed_headers.join(", ");
        out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, list.parse().ok()?);
    }
    out.insert(header::ACCESS_CONTROL_MAX_AGE, MAX_AGE.parse().ok()?);
    if headers.contains_key("access-control-request-private-network") {
        out.insert("access-control-allow-private-network", "true".parse().ok()?);
    }
    out.insert(
        header::VARY,
        "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
            .parse()
            .ok()?,
    );
    Some(response)
}

/// The requested headers in canonical spelling, or `None` if one of them is not allowed.
fn allowed_headers(headers: &HeaderMap) -> Option<Vec<&'static str>> {
    let Some(asked) = headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS) else {
        return Some(Vec::new());
    };
    let asked = asked.to_str().ok()?;
    asked
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(|name| {
            HEADERS
                .into_iter()
                .find(|known| known.eq_ignore_ascii_case(name))
        })
        .collect()
}

/// Adds the headers an actual cross-origin request's response needs.
pub(crate) fn allow(response: &mut Response<Body>) {
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        header::HeaderValue::from_static("*"),
    );
    headers.append(header::VARY, header::HeaderValue::from_static("Origin"));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preflight_for(method: &str, headers: &str) -> Response<Body> {
        let request = Request::options("/proxies")
            .header(header::ORIGIN, "http://dashboard.example")
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, method)
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, headers)
            .body(())
            .unwrap();
        preflight(&request).unwrap()
    }

    fn header<'a>(response: &'a Response<Body>, name: &str) -> &'a str {
        response
            .headers()
            .get(name)
            .map_or("", |v| v.to_str().unwrap())
    }

    #[test]
    fn a_preflight_allows_what_dashboards_ask_for() {
        let response = preflight_for("GET", "content-type,authorization");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "access-control-allow-origin"), "*");
        assert_eq!(header(&response, "access-control-allow-methods"), "GET");
        assert_eq!(
            header(&response, "access-control-allow-headers"),
            "Content-Type, Authorization"
        );
        assert_eq!(header(&response, "access-control-max-age"), "300");
    }

    #[test]
    fn a_preflight_for_something_else_allows_nothing() {
        assert_eq!(
            header(&preflight_for("TRACE", ""), "access-control-allow-origin"),
            ""
        );
        let foreign = preflight_for("GET", "X-Forwarded-For");
        assert_eq!(header(&foreign, "access-control-allow-origin"), "");
        let plain = Request::options("/").body(()).unwrap();
        assert!(preflight(&plain).is_none());
    }
}
