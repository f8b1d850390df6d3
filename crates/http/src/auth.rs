//! Bearer tokens: HS256 JWTs carrying the user, the tenant and the roles, and the secrets of
//! service accounts (`trn_sa_...`), which act in their organization with their roles.

use crate::problem::{Problem, ProblemKind};
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use chrono::{DateTime, Utc};
use futures_util::future::LocalBoxFuture;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use terrane_domain::{
    Actor, Agent, Role, TenantId, UserId, AGENT_TOKEN_PREFIX, SERVICE_ACCOUNT_SECRET_PREFIX,
};
use uuid::Uuid;

/// Shortest signing secret accepted, in bytes (the HS256 key length).
pub const MIN_SECRET_LEN: usize = 32;

/// What a 401 says when a token's claims are missing or of the wrong type: every claim a
/// token must carry.
const REQUIRED_CLAIMS: &str = "the token's claims are malformed: it needs sub and tenant (UUIDs), roles (a list of admin, deployer or viewer), exp and iat (seconds since the epoch)";

/// The claims terrane signs and expects.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    /// The user.
    pub sub: Uuid,
    /// The organization.
    pub tenant: Uuid,
    /// What the user may do.
    pub roles: Vec<Role>,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issue time, seconds since the epoch.
    pub iat: i64,
}

/// Why a secret was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the JWT secret must be at least {MIN_SECRET_LEN} bytes long (it has {0}); set TERRANE_JWT_SECRET to a longer value or unset it to let terrane generate one")]
pub struct SecretTooShort(pub usize);

/// Signs and verifies tokens with one HS256 secret.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    verified: Arc<Mutex<HashMap<Box<str>, Verified>>>,
}

/// Tokens whose signature and claims were checked, at most this many (then forgotten at once).
const VERIFIED_TOKENS: usize = 4096;

/// What a token checked once says: the claims that depend on the time are checked again on
/// every use.
#[derive(Clone)]
struct Verified {
    actor: Actor,
    exp: i64,
    iat: i64,
}

impl TokenKeys {
    /// Keys from a secret of at least [`MIN_SECRET_LEN`] bytes.
    ///
    /// # Errors
    /// [`SecretTooShort`] otherwise.
    pub fn new(secret: &[u8]) -> Result<Self, SecretTooShort> {
        if secret.len() < MIN_SECRET_LEN {
            return Err(SecretTooShort(secret.len()));
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub", "iat"]);
        Ok(Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            verified: Arc::default(),
        })
    }

    /// A token for `actor` valid from `now` until `expires_at`.
    ///
    /// # Errors
    /// Only if signing fails, which it does not for HS256 with a valid key.
    pub fn issue(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<String, String> {
        let claims = Claims {
            sub: actor.user.as_uuid(),
            tenant: actor.tenant.as_uuid(),
            roles: actor.roles.clone(),
            exp: expires_at.timestamp(),
            iat: now.timestamp(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| e.to_string())
    }

    /// The actor a token speaks for.
    ///
    /// A token is decoded and its signature checked once: the same bytes are then known
    /// (HMAC and JSON were a tenth of a `GET`'s work), and only their expiry and issue time
    /// are checked again against the clock. The key never changes while the server runs, so a
    /// token once valid stays signed by it.
    ///
    /// # Errors
    /// A 401 problem saying why the token is refused.
    pub fn verify(&self, token: &str) -> Result<Actor, Problem> {
        let now = i64::try_from(jsonwebtoken::get_current_timestamp()).unwrap_or(i64::MAX);
        self.verify_at(token, now)
    }

    /// [`TokenKeys::verify`] at `now`, seconds since the epoch.
    fn verify_at(&self, token: &str, now: i64) -> Result<Actor, Problem> {
        let known = self.known().get(token).cloned();
        let verified = match known {
            Some(verified) => verified,
            None => {
                let verified = self.decode(token)?;
                let mut known = self.known();
                if known.len() >= VERIFIED_TOKENS {
                    known.clear();
                }
                known.insert(token.into(), verified.clone());
                verified
            }
        };
        let leeway = i64::try_from(self.validation.leeway).unwrap_or(0);
        if verified.exp < now.saturating_sub(leeway) {
            return Err(Problem::new(
                ProblemKind::Unauthorized,
                "the token has expired",
            ));
        }
        if verified.iat > now.saturating_add(leeway) {
            return Err(Problem::new(
                ProblemKind::Unauthorized,
                "the token was issued in the future (its iat is after now)",
            ));
        }
        Ok(verified.actor)
    }

    /// The tokens checked so far (a poisoned lock only means a panic elsewhere mid-insert).
    fn known(&self) -> std::sync::MutexGuard<'_, HashMap<Box<str>, Verified>> {
        self.verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Decodes `token` and checks its signature and claims; its expiry and issue time are
    /// checked by the caller.
    fn decode(&self, token: &str) -> Result<Verified, Problem> {
        use jsonwebtoken::errors::ErrorKind;
        let mut validation = self.validation.clone();
        // Checked on every use by `verify_at`, cached or not.
        validation.validate_exp = false;
        let data =
            jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).map_err(|e| {
                let why = match e.kind() {
                    ErrorKind::ExpiredSignature => "the token has expired",
                    ErrorKind::InvalidSignature => {
                        "the token's signature is not valid for this server"
                    }
                    ErrorKind::Json(_) | ErrorKind::MissingRequiredClaim(_) => REQUIRED_CLAIMS,
                    _ => "the token is malformed",
                };
                Problem::new(ProblemKind::Unauthorized, why)
            })?;
        let claims = data.claims;
        Ok(Verified {
            actor: Actor {
                user: UserId(claims.sub),
                tenant: TenantId(claims.tenant),
                roles: claims.roles,
            },
            exp: claims.exp,
            iat: claims.iat,
        })
    }
}

/// The authenticated caller of a request: extracting it answers 401 when the request carries
/// no valid bearer token (a JWT or a service account's secret).
#[derive(Debug, Clone)]
pub struct Authenticated(pub Actor);

impl FromRequest for Authenticated {
    type Error = Problem;
    type Future = LocalBoxFuture<'static, Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let verifier = Verifier::of(req);
        let token = bearer(req);
        Box::pin(async move { verifier?.bearer_actor(token?).await.map(Authenticated) })
    }
}

/// Names `actor` as who the rest of the request acts for, so that the events its writes
/// record name them (see [`terrane_ports::acting_once_known`], which [`crate::app`] wraps
/// every request in).
fn acts(actor: &Actor) {
    terrane_ports::act_as(actor.user.to_string());
}

/// What checks credentials: the token keys and the service accounts.
pub(crate) struct Verifier {
    keys: web::Data<TokenKeys>,
    state: web::Data<crate::AppState>,
}

impl Verifier {
    /// The request's verifier.
    ///
    /// # Errors
    /// A 500 when the application was built without keys or state.
    pub(crate) fn of(req: &HttpRequest) -> Result<Self, Problem> {
        Ok(Self {
            keys: req
                .app_data::<web::Data<TokenKeys>>()
                .cloned()
                .ok_or_else(|| Problem::internal("token keys are not configured"))?,
            state: req
                .app_data::<web::Data<crate::AppState>>()
                .cloned()
                .ok_or_else(|| Problem::internal("the application state is missing"))?,
        })
    }

    /// The actor behind a bearer token: a JWT of this server, or a service account's secret.
    ///
    /// # Errors
    /// A 401 for a token that is not (or no longer) valid; a 403 for an agent's token.
    pub(crate) async fn bearer_actor(&self, token: String) -> Result<Actor, Problem> {
        if token.starts_with(AGENT_TOKEN_PREFIX) {
            return Err(Problem::new(ProblemKind::Forbidden, AGENT_ONLY));
        }
        if token.starts_with(SERVICE_ACCOUNT_SECRET_PREFIX) {
            return self.service_account(None, token).await;
        }
        self.keys.verify(&token).inspect(acts)
    }

    /// The actor of the service account whose secret is `secret` (and whose login is
    /// `login`, when given).
    ///
    /// # Errors
    /// A 401 when no account has that secret (and login).
    pub(crate) async fn service_account(
        &self,
        login: Option<String>,
        secret: String,
    ) -> Result<Actor, Problem> {
        match self
            .state
            .service_accounts
            .authenticate(login, secret)
            .await?
        {
            Some(account) => Ok(account.actor()).inspect(acts),
            None => Err(Problem::new(
                ProblemKind::Unauthorized,
                "the service account credentials are not valid: unknown, rotated, or the account was deleted",
            )),
        }
    }
}

/// What an agent token may do, for the 403 of anything else.
const AGENT_ONLY: &str = "an agent token may only send its own heartbeat (POST /api/v1/agents/{id}/heartbeat) and inventories of the targets it serves (POST /api/v1/targets/{id}/inventory)";

/// The token of an `Authorization: Bearer <token>` header.
pub(crate) fn bearer(req: &HttpRequest) -> Result<String, Problem> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .ok_or_else(|| {
            Problem::new(
                ProblemKind::Unauthorized,
                "send an `Authorization: Bearer <token>` header",
            )
        })?;
    value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| {
            Problem::new(
                ProblemKind::Unauthorized,
                "the Authorization header must be `Bearer <token>`",
            )
        })
}

/// The agent behind an agent token (`Authorization: Bearer trn_agent_...`): extracting it
/// answers 401 for an unknown or revoked agent token and 403 for a person's token.
#[derive(Debug, Clone)]
pub struct AgentAuthenticated(pub Agent);

impl FromRequest for AgentAuthenticated {
    type Error = Problem;
    type Future = LocalBoxFuture<'static, Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = bearer(req);
        let state = req.app_data::<web::Data<crate::AppState>>().cloned();
        Box::pin(async move {
            let token = token?;
            if !token.starts_with(AGENT_TOKEN_PREFIX) {
                return Err(Problem::new(
                    ProblemKind::Forbidden,
                    "this route is for agents: send the agent's token (trn_agent_...)",
                ));
            }
            let state =
                state.ok_or_else(|| Problem::internal("the application state is missing"))?;
            match state.agents.authenticate(&token).await? {
                Some(agent) => Ok(AgentAuthenticated(agent)),
                None => Err(Problem::new(
                    ProblemKind::Unauthorized,
                    "the agent token is not valid: unknown, or the agent was revoked",
                )),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn keys() -> TokenKeys {
        TokenKeys::new(&[7u8; 32]).unwrap()
    }

    fn actor() -> Actor {
        Actor {
            user: UserId(Uuid::now_v7()),
            tenant: TenantId(Uuid::now_v7()),
            roles: vec![Role::Admin, Role::Viewer],
        }
    }

    #[test]
    fn a_secret_under_32_bytes_is_refused() {
        assert_eq!(TokenKeys::new(&[1u8; 31]).err(), Some(SecretTooShort(31)));
    }

    #[test]
    fn an_issued_token_verifies_to_the_same_actor() {
        let now = Utc::now();
        let token = keys()
            .issue(&actor(), now, now + Duration::hours(1))
            .unwrap();
        let a = actor();
        let token2 = keys().issue(&a, now, now + Duration::hours(1)).unwrap();
        assert_eq!(keys().verify(&token2).unwrap(), a);
        assert!(keys().verify(&token).is_ok());
    }

    #[test]
    fn expired_tokens_and_foreign_signatures_are_refused() {
        let now = Utc::now();
        let expired = keys()
            .issue(&actor(), now - Duration::hours(2), now - Duration::hours(1))
            .unwrap();
        assert!(keys()
            .verify(&expired)
            .unwrap_err()
            .detail
            .contains("expired"));
        let other = TokenKeys::new(&[8u8; 32])
            .unwrap()
            .issue(&actor(), now, now + Duration::hours(1))
            .unwrap();
        assert!(keys()
            .verify(&other)
            .unwrap_err()
            .detail
            .contains("signature"));
        assert_eq!(keys().verify("not.a.jwt").unwrap_err().status(), 401);
    }

    #[test]
    fn a_token_checked_before_still_expires_and_a_forged_one_is_never_taken_for_it() {
        let keys = keys();
        let now = Utc::now();
        let a = actor();
        let token = keys.issue(&a, now, now + Duration::hours(1)).unwrap();
        assert_eq!(keys.verify(&token).unwrap(), a);
        // Known now: the clock still decides.
        let later = (now + Duration::hours(2)).timestamp();
        assert!(keys
            .verify_at(&token, later)
            .unwrap_err()
            .detail
            .contains("expired"));
        let earlier = (now - Duration::hours(1)).timestamp();
        assert!(keys
            .verify_at(&token, earlier)
            .unwrap_err()
            .detail
            .contains("future"));
        assert_eq!(keys.verify(&token).unwrap(), a);
        // The same claims under another signature are other bytes: checked, and refused.
        let (body, _) = token.rsplit_once('.').unwrap();
        let forged = format!("{body}.{}", "A".repeat(43));
        assert!(keys
            .verify(&forged)
            .unwrap_err()
            .detail
            .contains("signature"));
    }
}
