//! The moves of a request through its state machine, each returning the request after it and
//! the history row that records it.

use super::*;

impl EnvironmentRequest {
    /// The request after moving to `to` at `now`, and the history row recording it. The
    /// `status_message`, when given, replaces the current one.
    fn moved(
        &self,
        to: RequestStatus,
        actor: Option<UserId>,
        message: &str,
        status_message: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(EnvironmentRequest, RequestHistoryEntry), InvalidRequestTransition> {
        let now = crate::time::truncate(now);
        let to = self.status.transition(to)?;
        let mut next = self.clone();
        next.status = to;
        if let Some(status_message) = status_message {
            next.status_message = Some(status_message);
        }
        next.version += 1;
        next.updated_at = now;
        let entry = RequestHistoryEntry {
            from: Some(self.status),
            to,
            actor,
            at: now,
            message: Some(message.to_owned()),
            comment: None,
        };
        Ok((next, entry))
    }

    /// Approval by `reviewer`: `pending -> approved`, reviewed by them, with their comment.
    ///
    /// # Errors
    /// [`InvalidRequestTransition`] unless the request is pending.
    pub fn approve(
        &self,
        reviewer: UserId,
        comment: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(EnvironmentRequest, RequestHistoryEntry), InvalidRequestTransition> {
        self.review(
            RequestStatus::Approved,
            messages::APPROVED,
            reviewer,
            comment,
            now,
        )
    }

    /// Rejection by `reviewer`: `pending -> rejected`, with `statusMessage` "Request
    /// rejected" and their comment.
    ///
    /// # Errors
    /// [`InvalidRequestTransition`] unless the request is pending.
    pub fn reject(
        &self,
        reviewer: UserId,
        comment: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(EnvironmentRequest, RequestHistoryEntry), InvalidRequestTransition> {
        self.review(
            RequestStatus::Rejected,
            messages::REJECTED,
            reviewer,
            comment,
            now,
        )
    }

    fn review(
        &self,
        to: RequestStatus,
        message: &str,
        reviewer: UserId,
        comment: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(EnvironmentRequest, RequestHistoryEntry), InvalidRequestTransition> {
        let (mut next, mut entry) =
            self.moved(to, Some(reviewer), message, Some(message.to_owned()), now)?;
        next.reviewed_by = Some(reviewer);
        next.review_comment.clone_from(&comment);
        entry.comment = comment;
        Ok((next, entry))
    }

    /// terrane begins making the environment: `approved -> provisioning`. The status message
    /// (the approval's) stays.
    ///
    /// # Errors
    /// [`InvalidRequestTransition`] unless the request is approved.
    pub fn start_provisioning(
        &self,
        now: DateTime<Utc>,
    ) -> Result<(EnvironmentRequest, RequestHistoryEntry), InvalidRequestTransition> {
        if self.status != RequestStatus::Approved {
            return Err(InvalidRequestTransition {
                from: self.status,
                to: RequestStatus::Provisioning,
            });
        }
        self.moved(
            RequestStatus::Provisioning,
            None,
            messages::PROVISIONING,
            None,
            now,
        )
    }

    /// An admin retries a failed provisioning: `failed -> provisioning`.
    ///
    /// # Errors
    /// [`InvalidRequestTransition`] unless the request failed.
    pub fn retry(
        &self,
        actor: UserId,
        now: DateTime<Utc>,
    ) -> Result<(EnvironmentRequest, RequestHistoryEntry), InvalidRequestTransition> {
        if self.status != RequestStatus::Failed {
            return Err(InvalidRequestTransition {
                from: self.status,
                to: RequestStatus::Provisioning,
            });
        }
        self.moved(
            RequestStatus::Provisioning,
            Some(actor),
            messages::RETRIED,
            Some(messages::RETRIED.to_owned()),
            now,
        )
    }

    /// The environment exists as `environment`: `provisioning -> active`, provisioned now,
    /// and for an ephemeral request expiring its time to live from now.
    ///
    /// # Errors
    /// [`InvalidRequestTransition`] unless the request is provisioning.
    pub fn activate(
        &self,
        environment: EnvironmentId,
        now: DateTime<Utc>,
    ) -> Result<(EnvironmentRequest, RequestHistoryEntry), InvalidRequestTransition> {
        let (mut next, entry) = self.moved(
            RequestStatus::Active,
            None,
            messages::PROVISIONED,
            None,
            now,
        )?;
        next.environment_id = Some(environment);
        next.provisioned_at = Some(next.updated_at);
        next.expires_at = match self.environment_type {
            EnvironmentType::Ephemeral => self
                .ttl_hours
                .map(|hours| next.updated_at + Duration::hours(i64::from(hours))),
            EnvironmentType::Persistent => None,
        };
        Ok((next, entry))
    }

    /// Making the environment failed for `reason`: `provisioning -> failed`, the reason
    /// (cut to its last 2000 characters) in `statusMessage`.
    ///
    /// # Errors
    /// [`InvalidRequestTransition`] unless the request is provisioning.
    pub fn fail(
        &self,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(EnvironmentRequest, RequestHistoryEntry), InvalidRequestTransition> {
        let reason = tail(reason);
        self.moved(
            RequestStatus::Failed,
            None,
            &reason,
            Some(reason.clone()),
            now,
        )
    }

    /// The environment was torn down: `active -> expired`, by an admin (`actor`) or by
    /// terrane itself when its time to live passed (`None`), with `message` in
    /// `statusMessage`.
    ///
    /// # Errors
    /// [`InvalidRequestTransition`] unless the request is active.
    pub fn expire(
        &self,
        actor: Option<UserId>,
        message: &str,
        now: DateTime<Utc>,
    ) -> Result<(EnvironmentRequest, RequestHistoryEntry), InvalidRequestTransition> {
        self.moved(
            RequestStatus::Expired,
            actor,
            message,
            Some(message.to_owned()),
            now,
        )
    }

    /// The request after `patch`, validated under `ttl`; only a pending request changes.
    /// Returns the request unchanged (same version) when the patch changes nothing.
    ///
    /// # Errors
    /// [`RequestError::NotPending`] unless pending, [`RequestError::Invalid`] for bad fields
    /// (a time to live for a persistent request, one over the maximum, a bad name).
    pub fn edit(
        &self,
        patch: RequestPatch,
        ttl: &TtlPolicy,
        now: DateTime<Utc>,
    ) -> Result<EnvironmentRequest, RequestError> {
        if self.status != RequestStatus::Pending {
            return Err(RequestError::NotPending(NotPending {
                action: "changed",
                status: self.status,
            }));
        }
        let mut errors = ValidationErrors::new();
        let name = patch
            .name
            .as_deref()
            .map(EnvironmentName::parse)
            .transpose();
        let name = errors.take(name).flatten();
        let description = patch.description.map(parse_description).transpose();
        let description = errors.take(description).flatten();
        let ttl_hours = match patch.ttl_hours {
            Some(hours) => errors.take(ttl.ttl_hours(self.environment_type, Some(hours))),
            None => None,
        };
        if !errors.is_empty() {
            return Err(errors.into());
        }
        let mut next = self.clone();
        if let Some(name) = name {
            next.name = name;
        }
        if let Some(description) = description {
            next.description = description;
        }
        if let Some(ttl_hours) = ttl_hours {
            next.ttl_hours = ttl_hours;
        }
        if next == *self {
            return Ok(next);
        }
        next.version += 1;
        next.updated_at = crate::time::truncate(now);
        Ok(next)
    }

    /// Checks that the request may be deleted: only while pending.
    ///
    /// # Errors
    /// [`NotPending`] otherwise.
    pub fn ensure_deletable(&self) -> Result<(), NotPending> {
        if self.status == RequestStatus::Pending {
            Ok(())
        } else {
            Err(NotPending {
                action: "deleted",
                status: self.status,
            })
        }
    }

    /// The environment this request makes in terrane's inventory: its name and description,
    /// every other setting at its default. The link to the request and the expiry come from
    /// the request once active.
    pub fn new_environment(&self) -> NewEnvironment {
        EnvironmentInput {
            name: Some(self.name.as_str().to_owned()),
            description: Some(self.description.clone()),
            ..Default::default()
        }
        .into_new()
        .expect("a request's name and description are valid environment fields")
    }
}
