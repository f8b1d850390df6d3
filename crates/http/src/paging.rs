//! How every paged list of `/api/v1` answers: `X-Total-Count` and RFC 8288 `Link` headers
//! (`first`, `prev`, `next`, `last`), as GitHub's and GitLab's APIs do, so that a generic
//! client walks the pages by `rel="next"` without knowing the body's shape.
//!
//! A link keeps every query parameter of the request as it came (filters, sort), in order,
//! and changes only `skip` and `take`. Links are path-absolute references
//! (`</api/v1/environments?sort=name&skip=20&take=20>; rel="next"`), which RFC 8288 resolves
//! against the request's URL, like the `Location` headers: they stay right behind a proxy
//! that terminates TLS or answers under another host name, and they never echo a
//! client-supplied `Host` or `X-Forwarded-*` header back.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use terrane_domain::Page;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{ObjectBuilder, OpenApi, RefOr, Type};

/// The query parameters that choose a page; every other one is kept in the links.
const PAGING: [&str; 2] = ["skip", "take"];

/// A `200` for `page` of a list of `total` rows, with its `X-Total-Count` and `Link`
/// headers; the caller adds the body.
pub(crate) fn page_of(req: &HttpRequest, page: Page, total: u64) -> HttpResponseBuilder {
    let mut response = HttpResponse::Ok();
    response
        .insert_header(("X-Total-Count", total.to_string()))
        .insert_header((
            header::LINK,
            links(req.path(), req.query_string(), page, total),
        ));
    response
}

/// The `Link` header value of `page` of `total` rows at `path` for a request whose query
/// string was `query`.
fn links(path: &str, query: &str, page: Page, total: u64) -> String {
    let kept: Vec<String> = query
        .split('&')
        .filter(|pair| !pair.is_empty() && !is_paging(pair))
        .map(escape)
        .collect();
    let link = |page: Page, rel: &str| {
        let mut query = kept.clone();
        query.push(format!("skip={}", page.skip()));
        query.push(format!("take={}", page.take()));
        format!("<{path}?{}>; rel=\"{rel}\"", query.join("&"))
    };
    let mut all = vec![link(page.first(), "first")];
    all.extend(page.previous(total).map(|p| link(p, "prev")));
    all.extend(page.next(total).map(|p| link(p, "next")));
    all.push(link(page.last(total), "last"));
    all.join(", ")
}

/// Whether a raw `key=value` pair of a query string sets `skip` or `take` (whatever its
/// percent-encoding).
fn is_paging(pair: &str) -> bool {
    serde_urlencoded::from_str::<Vec<(String, String)>>(pair)
        .ok()
        .and_then(|decoded| decoded.into_iter().next())
        .is_some_and(|(key, _)| PAGING.contains(&key.as_str()))
}

/// A query pair as it came, with every byte a URI may not hold percent-encoded (so that
/// nothing in it can end the `<...>` of a link), and percent signs kept as they are.
fn escape(pair: &str) -> String {
    let mut out = String::with_capacity(pair.len());
    for byte in pair.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Documents `X-Total-Count` and `Link` on the `200` of every operation of `/api/v1` that
/// takes `skip` and `take`: the paged lists, which all answer through [`page_of`].
pub(crate) fn document(openapi: &mut OpenApi) {
    for (path, item) in openapi.paths.paths.iter_mut() {
        if !path.starts_with("/api/v1/") {
            continue;
        }
        if let Some(operation) = item.get.as_mut().filter(|op| is_paged(op)) {
            let Some(RefOr::T(ok)) = operation.responses.responses.get_mut("200") else {
                continue;
            };
            // A list's own description of its count, when it has one, stays.
            ok.headers.entry("X-Total-Count".into()).or_insert_with(|| {
                HeaderBuilder::new()
                    .schema(
                        ObjectBuilder::new()
                            .schema_type(Type::Integer)
                            .minimum(Some(0)),
                    )
                    .description(Some("Rows matching the filters, over all pages"))
                    .build()
            });
            ok.headers.insert(
                "Link".into(),
                HeaderBuilder::new()
                    .schema(ObjectBuilder::new().schema_type(Type::String))
                    .description(Some(
                        "RFC 8288 links to the `first` and `last` pages, and to the `prev` \
                         page (except on the first page) and the `next` one (when rows \
                         remain): path-absolute references, resolved against the request's \
                         URL, keeping every query parameter of the request and changing only \
                         `skip` and `take`. Example: `</api/v1/environments?sort=name&skip=0&take=20>; \
                         rel=\"first\", </api/v1/environments?sort=name&skip=20&take=20>; \
                         rel=\"next\", </api/v1/environments?sort=name&skip=40&take=20>; \
                         rel=\"last\"`",
                    ))
                    .build(),
            );
        }
    }
}

/// Whether `operation` takes both paging parameters in its query.
fn is_paged(operation: &Operation) -> bool {
    let parameters = operation.parameters.as_deref().unwrap_or_default();
    PAGING.iter().all(|name| {
        parameters
            .iter()
            .any(|p| p.name == *name && matches!(p.parameter_in, ParameterIn::Query))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(skip: i64, take: i64) -> Page {
        Page::parse(Some(skip), Some(take)).unwrap()
    }

    #[test]
    fn the_middle_page_links_all_four_and_keeps_every_other_parameter() {
        assert_eq!(
            links(
                "/api/v1/environments",
                "isActive=true&skip=20&sort=~name&take=20&name=a%20b",
                page(20, 20),
                45
            ),
            "</api/v1/environments?isActive=true&sort=~name&name=a%20b&skip=0&take=20>; rel=\"first\", \
             </api/v1/environments?isActive=true&sort=~name&name=a%20b&skip=0&take=20>; rel=\"prev\", \
             </api/v1/environments?isActive=true&sort=~name&name=a%20b&skip=40&take=20>; rel=\"next\", \
             </api/v1/environments?isActive=true&sort=~name&name=a%20b&skip=40&take=20>; rel=\"last\""
        );
    }

    #[test]
    fn the_first_page_has_no_prev_and_the_last_no_next() {
        let first = links("/api/v1/targets", "", page(0, 2), 5);
        assert!(!first.contains("rel=\"prev\""), "{first}");
        assert!(
            first.contains("</api/v1/targets?skip=2&take=2>; rel=\"next\""),
            "{first}"
        );
        let last = links("/api/v1/targets", "", page(4, 2), 5);
        assert!(!last.contains("rel=\"next\""), "{last}");
        assert!(
            last.contains("</api/v1/targets?skip=2&take=2>; rel=\"prev\""),
            "{last}"
        );
        let empty = links("/api/v1/targets", "", page(0, 20), 0);
        assert_eq!(
            empty,
            "</api/v1/targets?skip=0&take=20>; rel=\"first\", </api/v1/targets?skip=0&take=20>; rel=\"last\""
        );
    }

    #[test]
    fn paging_parameters_are_replaced_however_they_are_encoded() {
        let link = links("/api/v1/targets", "%73kip=3&take=1&take=2", page(3, 2), 9);
        assert!(
            link.starts_with("</api/v1/targets?skip=0&take=2>; rel=\"first\""),
            "{link}"
        );
    }

    #[test]
    fn nothing_in_a_parameter_can_end_the_link() {
        let link = links("/api/v1/targets", "name=<a>\"b\" c", page(0, 2), 1);
        assert!(
            link.starts_with("</api/v1/targets?name=%3Ca%3E%22b%22%20c&skip=0&take=2>"),
            "{link}"
        );
    }
}
