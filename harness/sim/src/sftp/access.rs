//! What a session may do in S3: the access role's policy intersected with the user's session
//! policy, evaluated per S3 call with iam-rs, as S3 evaluates the role session Transfer Family
//! assumes for the user.
//!
//! The session policy's `${transfer:*}` variables are substituted into its text before it is
//! parsed, as Transfer Family does when it passes the policy to AssumeRole; the role policy
//! gets no such substitution (AWS does not offer those variables there).

use iam_rs::{Arn, Context, Decision, IAMPolicy, IAMRequest, PolicyEvaluator, Principal, PrincipalId};

/// A policy document that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{which} policy: {message}")]
pub struct PolicyError {
    /// `role` or `session`.
    pub which: &'static str,
    /// Why.
    pub message: String,
}

/// The S3 actions Transfer Family's calls need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum S3Action {
    /// HeadObject, GetObject, the source of CopyObject.
    GetObject,
    /// PutObject, multipart uploads, the destination of CopyObject.
    PutObject,
    /// DeleteObject.
    DeleteObject,
    /// AbortMultipartUpload.
    AbortMultipartUpload,
    /// ListObjectsV2 (the `s3:prefix` condition key is the listed prefix).
    ListBucket,
}

impl S3Action {
    /// The IAM action name.
    pub fn name(self) -> &'static str {
        match self {
            Self::GetObject => "s3:GetObject",
            Self::PutObject => "s3:PutObject",
            Self::DeleteObject => "s3:DeleteObject",
            Self::AbortMultipartUpload => "s3:AbortMultipartUpload",
            Self::ListBucket => "s3:ListBucket",
        }
    }
}

/// The policies of one session, each ready to evaluate (built once, used for every S3 call).
#[derive(Debug, Clone)]
pub struct Access {
    principal: String,
    role: Option<PolicyEvaluator>,
    session: Option<PolicyEvaluator>,
}

fn parse(which: &'static str, text: &str) -> Result<PolicyEvaluator, PolicyError> {
    let policy = IAMPolicy::from_json(text).map_err(|e| PolicyError { which, message: e.to_string() })?;
    Ok(PolicyEvaluator::with_policies(vec![policy]))
}

/// Replaces `${transfer:Name}` (any case) with the given values; other variables stay for IAM.
pub(super) fn substitute(text: &str, variables: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let name = &after[..end];
        let value = name
            .split_once(':')
            .filter(|(service, _)| service.eq_ignore_ascii_case("transfer"))
            .and_then(|(_, n)| variables.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)));
        match value {
            Some((_, v)) => out.push_str(v),
            None => out.push_str(&rest[start..start + 2 + end + 1]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

impl Access {
    /// Everything allowed: no role policy, no session policy (a role with full S3 access).
    pub fn unrestricted(principal: &str) -> Self {
        Self { principal: principal.to_string(), role: None, session: None }
    }

    /// `role_policy` ∩ `session_policy` (after its `${transfer:*}` variables are filled in).
    pub fn new(
        principal: &str,
        role_policy: Option<&str>,
        session_policy: Option<&str>,
        variables: &[(&str, String)],
    ) -> Result<Self, PolicyError> {
        let role = role_policy.map(|t| parse("role", t)).transpose()?;
        let session = session_policy.map(|t| parse("session", &substitute(t, variables))).transpose()?;
        Ok(Self { principal: principal.to_string(), role, session })
    }

    /// Whether `action` on `bucket` (and `key`, for object actions) is allowed. `prefix` is the
    /// `s3:prefix` of a listing.
    pub fn allows(&self, action: S3Action, bucket: &str, key: Option<&str>, prefix: Option<&str>) -> bool {
        let resource = match key {
            Some(k) => format!("arn:aws:s3:::{bucket}/{k}"),
            None => format!("arn:aws:s3:::{bucket}"),
        };
        let Ok(arn) = Arn::parse(&resource) else { return false };
        let mut context = Context::new();
        if let Some(p) = prefix {
            context = context.with_string("s3:prefix", p);
        }
        let request = IAMRequest::new_with_context(
            Principal::Aws(PrincipalId::String(self.principal.clone())),
            action.name(),
            arn,
            context,
        );
        let allowed = |policy: &Option<PolicyEvaluator>| match policy {
            None => true,
            Some(p) => p.evaluate(&request).is_ok_and(|r| r.decision == Decision::Allow),
        };
        allowed(&self.role) && allowed(&self.session)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLE: &str = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":["s3:ListBucket"],"Resource":["arn:aws:s3:::src"]},
        {"Effect":"Allow","Action":["s3:PutObject","s3:GetObject","s3:DeleteObject"],"Resource":["arn:aws:s3:::src/*"]}]}"#;
    const SESSION: &str = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":["s3:ListBucket"],"Resource":["arn:aws:s3:::${transfer:HomeBucket}"],
         "Condition":{"StringLike":{"s3:prefix":["${transfer:HomeFolder}/*","${transfer:HomeFolder}"]}}},
        {"Effect":"Allow","Action":["s3:PutObject","s3:GetObject"],"Resource":["arn:aws:s3:::${Transfer:HomeDirectory}/*"]},
        {"Effect":"Deny","Action":["s3:PutObject"],"Resource":["arn:aws:s3:::src/${transfer:UserName}/locked/*"]}]}"#;

    fn access() -> Access {
        let vars = [
            ("HomeBucket", "src".to_string()),
            ("HomeDirectory", "src/acme".to_string()),
            ("HomeFolder", "acme".to_string()),
            ("UserName", "acme".to_string()),
        ];
        Access::new("arn:aws:iam::123456789012:role/access", Some(ROLE), Some(SESSION), &vars).unwrap()
    }

    #[test]
    fn the_intersection_of_role_and_session_decides() {
        let a = access();
        assert!(a.allows(S3Action::PutObject, "src", Some("acme/a.csv"), None));
        assert!(a.allows(S3Action::GetObject, "src", Some("acme/dir/a b+c%.csv"), None));
        // The role allows deletes; the session policy does not.
        assert!(!a.allows(S3Action::DeleteObject, "src", Some("acme/a.csv"), None));
        // Another user's folder, another bucket.
        assert!(!a.allows(S3Action::PutObject, "src", Some("globex/a.csv"), None));
        assert!(!a.allows(S3Action::GetObject, "other", Some("acme/a.csv"), None));
        // An explicit deny wins.
        assert!(!a.allows(S3Action::PutObject, "src", Some("acme/locked/x"), None));
        assert!(a.allows(S3Action::GetObject, "src", Some("acme/locked/x"), None));
    }

    #[test]
    fn listing_is_governed_by_the_prefix_condition() {
        let a = access();
        assert!(a.allows(S3Action::ListBucket, "src", None, Some("acme/")));
        assert!(a.allows(S3Action::ListBucket, "src", None, Some("acme/sub/")));
        assert!(!a.allows(S3Action::ListBucket, "src", None, Some("")));
        assert!(!a.allows(S3Action::ListBucket, "src", None, Some("globex/")));
        assert!(!a.allows(S3Action::ListBucket, "src", None, None));
    }

    #[test]
    fn variables_are_substituted_in_the_session_policy_only() {
        assert_eq!(
            substitute("${transfer:UserName}/${aws:username}/${TRANSFER:homefolder}", &[("HomeFolder", "f".into())]),
            "${transfer:UserName}/${aws:username}/f"
        );
        let unrestricted = Access::unrestricted("r");
        assert!(unrestricted.allows(S3Action::DeleteObject, "any", Some("thing"), None));
        let err = Access::new("r", Some("{not json"), None, &[]).unwrap_err();
        assert_eq!(err.which, "role");
    }
}
