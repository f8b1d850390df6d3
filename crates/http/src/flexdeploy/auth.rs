//! Who calls the dialect: `Authorization: Basic base64(login:secret)` with a service account's
//! login and secret (as FlexDeploy clients send their API tokens), or any bearer token
//! `/api/v1` accepts. Failures answer 401 with a Basic challenge, and repeated failures from
//! one client lock it out for a while (see [`crate::login_throttle`]).

use crate::auth::{bearer, Verifier};
use crate::problem::{Problem, ProblemKind};
use crate::AppState;
use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{web, FromRequest, HttpRequest};
use base64::Engine;
use futures_util::future::LocalBoxFuture;
use std::net::IpAddr;
use std::time::Instant;
use terrane_domain::Actor;

/// The challenge of every 401 on dialect paths.
pub const BASIC_CHALLENGE: &str = "Basic realm=\"terrane\"";

/// The authenticated caller of a dialect request.
#[derive(Debug, Clone)]
pub struct FlexDeployAuthenticated(pub Actor);

/// The credentials a request carries.
enum Credentials {
    /// `Basic`: a login and a secret.
    Basic { login: String, secret: String },
    /// `Bearer`: a token.
    Bearer(String),
}

fn unauthorized(detail: &str) -> Problem {
    Problem::new(ProblemKind::Unauthorized, detail).with_challenge(BASIC_CHALLENGE)
}

/// The credentials of the `Authorization` header; `Ok(None)` when there is none.
fn credentials(req: &HttpRequest) -> Result<Option<Credentials>, Problem> {
    let Some(value) = req.headers().get(AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| unauthorized("the Authorization header is not readable text"))?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| unauthorized("Basic credentials must be base64 of `login:secret`"))?;
        let (login, secret) = decoded
            .split_once(':')
            .ok_or_else(|| unauthorized("Basic credentials must be base64 of `login:secret`"))?;
        return Ok(Some(Credentials::Basic {
            login: login.to_owned(),
            secret: secret.to_owned(),
        }));
    }
    bearer(req)
        .map(|token| Some(Credentials::Bearer(token)))
        .map_err(|_| {
            unauthorized("send `Authorization: Basic base64(login:secret)` or `Bearer <token>`")
        })
}

impl FromRequest for FlexDeployAuthenticated {
    type Error = Problem;
    type Future = LocalBoxFuture<'static, Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let verifier = Verifier::of(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let peer: Option<IpAddr> = req.peer_addr().map(|addr| addr.ip());
        let credentials = credentials(req);
        Box::pin(async move {
            let verifier = verifier?;
            let throttle = state
                .ok_or_else(|| Problem::internal("the application state is missing"))?
                .login_throttle
                .clone();
            if let Some(ip) = peer {
                if let Err(wait) = throttle.check(ip, Instant::now()) {
                    let seconds = wait.as_secs().max(1);
                    return Err(unauthorized(&format!(
                        "too many failed logins from your address: try again in {seconds} s"
                    ))
                    .with_retry_after(seconds));
                }
            }
            let outcome = match credentials {
                Ok(Some(Credentials::Basic { login, secret })) => {
                    verifier.service_account(Some(login), secret).await
                }
                Ok(Some(Credentials::Bearer(token))) => verifier.bearer_actor(token).await,
                // No credentials at all is not a guess: nothing to count.
                Ok(None) => {
                    return Err(unauthorized(
                        "send `Authorization: Basic base64(login:secret)` with a service account's login and secret",
                    ))
                }
                Err(problem) => Err(problem),
            };
            match (outcome, peer) {
                (Ok(actor), Some(ip)) => {
                    throttle.succeeded(ip);
                    Ok(FlexDeployAuthenticated(actor))
                }
                (Ok(actor), None) => Ok(FlexDeployAuthenticated(actor)),
                (Err(problem), peer) if problem.kind() == ProblemKind::Unauthorized => {
                    let locked = peer.and_then(|ip| throttle.failed(ip, Instant::now()));
                    let problem = unauthorized(&problem.detail);
                    Err(match locked {
                        Some(wait) => problem.with_retry_after(wait.as_secs().max(1)),
                        None => problem,
                    })
                }
                (Err(problem), _) => Err(problem),
            }
        })
    }
}
