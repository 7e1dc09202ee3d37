//! `/ui/`: a downloaded dashboard served from the configured directory, without auth (it is
//! only files; the API it calls checks the secret). Paths cannot leave the directory.

use super::reply::{self, Body};
use hyper::{Method, Request, Response, StatusCode, header};
use std::path::{Component, Path, PathBuf};

/// The largest file served.
const MAX_FILE: u64 = 32 << 20;

/// Serves `request` (whose path starts with `/ui`) from `root`.
pub(crate) async fn serve<B>(root: Option<&Path>, request: &Request<B>) -> Response<Body> {
    let Some(root) = root else {
        return reply::not_found();
    };
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return reply::message(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed");
    }
    let path = request.uri().path();
    let Some(rest) = path.strip_prefix("/ui/") else {
        let mut redirect = reply::empty(StatusCode::MOVED_PERMANENTLY);
        redirect
            .headers_mut()
            .insert(header::LOCATION, header::HeaderValue::from_static("/ui/"));
        return redirect;
    };
    let Some(relative) = relative_path(rest) else {
        return reply::not_found();
    };
    let file = match relative.as_os_str().is_empty() {
        true => root.join("index.html"),
        false => root.join(&relative),
    };
    match read_inside(root, &file).await {
        Some(bytes) => {
            let mut response = reply::with_type(StatusCode::OK, content_type(&file), bytes);
            let cache = if file.ends_with("index.html") || file.ends_with("sw.js") {
                "no-cache"
            } else {
                "max-age=3600"
            };
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static(cache),
            );
            response
        }
        None => reply::not_found(),
    }
}

/// The percent-decoded path below `/ui/`, or `None` if a segment is `..` or otherwise unsafe.
fn relative_path(rest: &str) -> Option<PathBuf> {
    let mut path = PathBuf::new();
    for segment in rest.split('/').filter(|s| !s.is_empty()) {
        let segment = super::router::percent_decode(segment)?;
        if segment.contains(['/', '\\', '\0']) {
            return None;
        }
        match Path::new(&segment).components().next() {
            Some(Component::Normal(_)) => path.push(&segment),
            _ => return None,
        }
    }
    Some(path)
}

/// The file's bytes, if it is a regular file that really lies inside `root` (no symlink out).
async fn read_inside(root: &Path, file: &Path) -> Option<Vec<u8>> {
    let root = tokio::fs::canonicalize(root).await.ok()?;
    let file = tokio::fs::canonicalize(file).await.ok()?;
    if !file.starts_with(&root) {
        return None;
    }
    let metadata = tokio::fs::metadata(&file).await.ok()?;
    if !metadata.is_file() || metadata.len() > MAX_FILE {
        return None;
    }
    tokio::fs::read(&file).await.ok()
}

fn content_type(file: &Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "ttf" => "font/ttf",
        "txt" | "md" => "text/plain; charset=utf-8",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_directory() {
        assert_eq!(relative_path("").unwrap(), PathBuf::new());
        assert_eq!(
            relative_path("assets/a.js").unwrap(),
            Path::new("assets/a.js")
        );
        assert_eq!(relative_path("a%20b.js").unwrap(), Path::new("a b.js"));
        assert!(relative_path("../secret").is_none());
        assert!(relative_path("assets/%2e%2e/%2e%2e/etc/passwd").is_none());
        assert!(relative_path("a%2fb").is_none());
        assert!(relative_path("a%5cb").is_none());
        assert!(relative_path("%zz").is_none());
    }
}
