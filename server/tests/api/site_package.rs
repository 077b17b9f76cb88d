//! The wasm, JS and CSS of the site package: a release build's brotli twin is what a browser
//! that accepts brotli receives (the first load's weight depends on it). With hashed names the
//! files are cached for good; without, browsers ask each time.

use reqwest::header::{ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE};
use reqwest::StatusCode;

use crate::helpers::{spawn_app_with, Backend, TempDir, TestSettings};

#[tokio::test]
async fn the_site_package_is_sent_as_the_precompressed_twin_the_browser_accepts() {
    let site = TempDir::new();
    let pkg = site.path.join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    // Big enough for the compression layer to bother (it leaves tiny bodies alone).
    let raw_module = b"\0asm raw module ".repeat(64);
    std::fs::write(pkg.join("whenly.wasm"), &raw_module).unwrap();
    std::fs::write(pkg.join("whenly.wasm.br"), b"brotli twin").unwrap();
    std::fs::write(pkg.join("whenly.wasm.gz"), b"gzip twin").unwrap();
    let settings = TestSettings { site_root: Some(site.path.clone()), ..TestSettings::default() };
    let app = spawn_app_with(Backend::Sqlite, settings).await.expect("SQLite needs no service");

    let fetch = |accept: Option<&'static str>| {
        let request = app.client.get(app.url("/pkg/whenly.wasm"));
        let request = match accept {
            Some(accept) => request.header(ACCEPT_ENCODING, accept),
            None => request,
        };
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(response.headers()[CONTENT_TYPE], "application/wasm");
            assert_eq!(response.headers()[CACHE_CONTROL], "no-cache");
            let encoding = response.headers().get(CONTENT_ENCODING).map(|value| value.to_str().unwrap().to_owned());
            (encoding, response.bytes().await.unwrap())
        }
    };
    let (encoding, body) = fetch(Some("gzip, deflate, br, zstd")).await;
    assert_eq!((encoding.as_deref(), &body[..]), (Some("br"), &b"brotli twin"[..]));
    // cargo-leptos's gzip twins are bigger than the compression layer's own gzip: not used.
    let (encoding, body) = fetch(Some("gzip")).await;
    assert_eq!(encoding.as_deref(), Some("gzip"));
    assert_eq!(&body[..2], &[0x1f, 0x8b], "a gzip stream made on the fly, not the twin");
    let (encoding, body) = fetch(None).await;
    assert_eq!((encoding.as_deref(), &body[..]), (None, &raw_module[..]));

    let missing = app.client.get(app.url("/pkg/nothing.js")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn files_with_hashed_names_are_cached_for_good() {
    let site = TempDir::new();
    let pkg = site.path.join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("whenly.kX2lJ0Yb8Qn1Wc3Zp7Rt4A.js"), b"export default 1;").unwrap();
    // A leftover from a build without hashes: it may change under the same name.
    std::fs::write(pkg.join("whenly.js"), b"export default 0;").unwrap();
    let settings = TestSettings { site_root: Some(site.path.clone()), ..TestSettings::default() };
    let app = spawn_app_with(Backend::Sqlite, settings).await.expect("SQLite needs no service");
    let response = app.client.get(app.url("/pkg/whenly.kX2lJ0Yb8Qn1Wc3Zp7Rt4A.js")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CACHE_CONTROL], "public, max-age=31536000, immutable");
    let plain = app.client.get(app.url("/pkg/whenly.js")).send().await.unwrap();
    assert_eq!(plain.headers()[CACHE_CONTROL], "no-cache");
    // A missing file is not cached at all: it may be there after the next deploy.
    let missing = app.client.get(app.url("/pkg/whenly.0000000000000000000000.js")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(missing.headers().get(CACHE_CONTROL).is_none());
}
