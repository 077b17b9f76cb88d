//! The site package (`/pkg`): the wasm, JS and CSS of the islands and the style sheet, with
//! the caching their names allow.

use axum::http::{header, HeaderValue, StatusCode};
use axum::Router;
use leptos::config::LeptosOptions;
use tower_http::services::ServeDir;

/// Serves the wasm, JS and CSS cargo-leptos writes to the site's package dir (`/pkg`). A release build with
/// `--precompress` leaves a brotli twin (`.br`) beside each file, compressed once at the best
/// level (the wasm: 262 KB against 350 KB gzip); browsers that accept brotli get it. Its gzip
/// twins are larger than what the compression layer makes on the fly, so they are not used:
/// the layer leaves an encoded response alone and gzips the rest.
///
/// A file whose name carries a content hash (`whenly.<hash>.wasm`, cargo-leptos `hash-files`)
/// changes its name whenever its content changes, so a browser may keep it for a year without
/// asking again (`immutable`); any other file must be asked for every time (`no-cache`,
/// answered 304 when unchanged).
pub fn router(options: &LeptosOptions) -> Router {
    let dir = std::path::Path::new(options.site_root.as_ref()).join(options.site_pkg_dir.as_ref());
    Router::new().fallback_service(ServeDir::new(dir).precompressed_br()).layer(axum::middleware::from_fn(
        |request: axum::extract::Request, next: axum::middleware::Next| async move {
            let hashed = has_content_hash(request.uri().path());
            let mut response = next.run(request).await;
            if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED {
                let cache_control = match hashed {
                    true => HeaderValue::from_static("public, max-age=31536000, immutable"),
                    false => HeaderValue::from_static("no-cache"),
                };
                response.headers_mut().insert(header::CACHE_CONTROL, cache_control);
            }
            response
        },
    ))
}

/// Whether a file name has cargo-leptos's content hash in it: a dot-separated part of 22
/// URL-safe base64 characters (an MD5) between the name and the extension.
fn has_content_hash(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or_default();
    let parts: Vec<&str> = name.split('.').collect();
    parts.len() >= 3
        && parts[1..parts.len() - 1]
            .iter()
            .any(|part| part.len() == 22 && part.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_'))
}

/// Whether the site package has hashed file names: cargo-leptos (with `hash-files`) then
/// writes their hashes to a file beside the binary, where Leptos looks for them. Decided by
/// that file, not by an environment variable only `cargo leptos serve` sets, so a binary run
/// on its own links the files that exist. A package with hashed names but no such file would
/// serve pages without styles or scripts: refused at start.
pub fn has_hashed_names(options: &LeptosOptions) -> Result<bool, String> {
    let hashes = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(options.hash_file.as_ref())))
        .filter(|hashes| hashes.is_file());
    if hashes.is_some() {
        return Ok(true);
    }
    let pkg = std::path::Path::new(options.site_root.as_ref()).join(options.site_pkg_dir.as_ref());
    let plain_script = pkg.join(format!("{}.js", options.output_name));
    if pkg.is_dir() && !plain_script.exists() {
        return Err(format!(
            "{} holds no {}.js, and there is no {} beside the binary: keep the {} that cargo-leptos wrote next to it",
            pkg.display(),
            options.output_name,
            options.hash_file,
            options.hash_file
        ));
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_content_hash_is_a_22_character_part_between_name_and_extension() {
        assert!(has_content_hash("/pkg/whenly.a16GFcxoMcUZq5kHV_ESnQ.js"));
        assert!(has_content_hash("/pkg/whenly.qkhpkKvlPyrhTfXYSjFSyA.wasm"));
        assert!(!has_content_hash("/pkg/whenly.js"));
        assert!(!has_content_hash("/pkg/whenly_bg.wasm"));
        assert!(!has_content_hash("/pkg/a16GFcxoMcUZq5kHV_ESnQ.js"), "the name itself is not a hash");
        assert!(!has_content_hash("/pkg/whenly.a16GFcxoMcUZq5kHV_ESn.js"), "21 characters");
        assert!(!has_content_hash("/pkg/whenly.a16GFcxoMcUZq5kHV+ESnQ.js"), "not URL-safe base64");
    }
}
