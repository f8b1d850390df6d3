//! The dashboard: a page at `/` and its assets under `/assets/`, embedded in the binary at
//! build time (plain HTML, CSS and JavaScript modules: no build step, nothing fetched from
//! elsewhere). The page signs in with a token pasted by its user and does everything through
//! the public API with it.

use crate::headers::{digest_etag, none_match_hits};
use actix_web::http::header::{self, HeaderValue};
use actix_web::{get, HttpRequest, HttpResponse};
use std::sync::OnceLock;

/// One embedded file.
struct Asset {
    /// Its name under `/assets/` (or `index.html` for the page).
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $type:expr) => {
        Asset {
            name: $name,
            content_type: $type,
            body: include_bytes!(concat!("../dashboard/", $name)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of the dashboard.
const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("dom.js", JS),
    asset!("matrix.js", JS),
    asset!("environments.js", JS),
    asset!("deployments.js", JS),
    asset!("requests.js", JS),
    asset!("dora.js", JS),
];

/// The ETag of each asset, computed once.
fn etags() -> &'static [String] {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    ETAGS.get_or_init(|| ASSETS.iter().map(|a| digest_etag(a.body)).collect())
}

/// Whether `path` is the dashboard's (its page or an asset).
pub fn serves(path: &str) -> bool {
    path == "/" || path.starts_with("/assets/")
}

/// The asset `name` with its content type, revalidated on every use (`no-cache`: a new
/// binary serves new files at once) and answered `304` when unchanged.
fn serve(req: &HttpRequest, name: &str) -> HttpResponse {
    let Some(i) = ASSETS.iter().position(|a| a.name == name) else {
        return actix_web::ResponseError::error_response(&crate::problem::Problem::not_found(
            "asset",
        ));
    };
    let (asset, etag) = (&ASSETS[i], &etags()[i]);
    let tag = HeaderValue::from_str(etag).unwrap_or(HeaderValue::from_static("\"\""));
    if none_match_hits(req.headers().get(header::IF_NONE_MATCH), etag) {
        return HttpResponse::NotModified()
            .insert_header((header::ETAG, tag))
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .finish();
    }
    HttpResponse::Ok()
        .content_type(asset.content_type)
        .insert_header((header::ETAG, tag))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(asset.body)
}

/// The dashboard's page.
#[get("/")]
pub async fn index(req: HttpRequest) -> HttpResponse {
    serve(&req, "index.html")
}

/// One of the dashboard's assets.
#[get("/assets/{name}")]
pub async fn assets(req: HttpRequest) -> HttpResponse {
    let name = req.match_info().get("name").unwrap_or_default().to_owned();
    if name == "index.html" {
        return actix_web::ResponseError::error_response(&crate::problem::Problem::not_found(
            "asset",
        ));
    }
    serve(&req, &name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_the_page_imports_is_embedded() {
        let names: Vec<&str> = ASSETS.iter().map(|a| a.name).collect();
        for asset in ASSETS {
            let text = std::str::from_utf8(asset.body).unwrap();
            for quote in ["\"./", "'./", "\"/assets/"] {
                for part in text.split(quote).skip(1) {
                    let end = part.find(['"', '\'']).unwrap_or(part.len());
                    let name = &part[..end];
                    if name.ends_with(".js") || name.ends_with(".css") {
                        assert!(
                            names.contains(&name),
                            "{} refers to {name}, which is not embedded",
                            asset.name
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn nothing_is_loaded_from_another_origin() {
        for asset in ASSETS {
            let text = std::str::from_utf8(asset.body).unwrap();
            assert!(
                !text.contains("http://") && !text.contains("https://") && !text.contains("//cdn"),
                "{} refers to another origin",
                asset.name
            );
        }
    }
}
