//! The flags of `firmgate firm policy`.

use super::JsonFlag;

/// The settings of `firm policy`; each left out stays as it is.
#[derive(clap::Args, Debug)]
pub(super) struct PolicyArgs {
    #[arg(long)]
    pub(super) firm: String,
    /// Sign out after this long without activity (e.g. 30m, 8h).
    #[arg(long)]
    pub(super) idle_timeout: Option<String>,
    /// Minimum password length for the firm's people (8 to 128; default 12).
    #[arg(long)]
    pub(super) password_min_length: Option<i64>,
    /// Days after which a password must be changed at sign-in (1 to 730; 0 = never, the default).
    #[arg(long)]
    pub(super) password_max_age: Option<i64>,
    /// Refuse the last N passwords when choosing a new one (0 to 24; 0 = off, the default).
    #[arg(long)]
    pub(super) password_reuse_limit: Option<i64>,
    /// Ask for upper- and lower-case letters, a digit and a symbol (off by default).
    #[arg(long, value_parser = ["on", "off"])]
    pub(super) password_composition: Option<String>,
    /// Two-step sign-in: required, prompt (the default: offered, may be skipped) or off.
    #[arg(long, value_parser = ["required", "prompt", "off"])]
    pub(super) mfa: Option<String>,
    /// Single sign-on the firm's people must use: off, microsoft, google or any.
    #[arg(long, value_parser = ["off", "microsoft", "google", "any"])]
    pub(super) require_sso: Option<String>,
    /// Comma-separated IPv4/IPv6 CIDRs allowed to sign in ("" = anywhere).
    #[arg(long)]
    pub(super) ip_allow: Option<String>,
    /// Days and hours sign-in is allowed, e.g. "Mon-Fri 07:00-19:00" ("always" = any time).
    #[arg(long)]
    pub(super) sign_in_hours: Option<String>,
    /// The firm's time zone for the sign-in hours (IANA name, e.g. Europe/London).
    #[arg(long)]
    pub(super) time_zone: Option<String>,
    /// Sign in again after this long, however active (e.g. 10h; 0s = the server's limit).
    #[arg(long)]
    pub(super) max_session_age: Option<String>,
    /// Entra ID tenant ids whose Microsoft accounts the firm accepts (comma-separated; "none").
    #[arg(long)]
    pub(super) microsoft_tenants: Option<String>,
    /// Google Workspace domains (the `hd` claim) whose accounts the firm accepts ("none").
    #[arg(long)]
    pub(super) google_domains: Option<String>,
    /// Other configured OpenID upstreams the firm accepts, by name ("none").
    #[arg(long)]
    pub(super) oidc_upstreams: Option<String>,
    /// E-mail domains the firm owns (for linking Microsoft accounts and joining; "none").
    #[arg(long)]
    pub(super) email_domains: Option<String>,
    /// Upstreams whose own MFA replaces firmgate's challenge, e.g. microsoft,google ("none").
    #[arg(long)]
    pub(super) trust_upstream_mfa: Option<String>,
    /// Verified people of the firm's tenant or domain become members at their first SSO sign-in.
    #[arg(long, value_parser = ["on", "off"])]
    pub(super) sso_join: Option<String>,
    /// Exempt a member (by e-mail) from the MFA rule; repeatable.
    #[arg(long = "mfa-exempt")]
    pub(super) mfa_exempt: Vec<String>,
    /// End a member's MFA exemption; repeatable.
    #[arg(long = "mfa-unexempt")]
    pub(super) mfa_unexempt: Vec<String>,
    /// Exempt a member (by e-mail) from the SSO rule (a break-glass admin); repeatable.
    #[arg(long = "sso-exempt")]
    pub(super) sso_exempt: Vec<String>,
    /// End a member's SSO exemption; repeatable.
    #[arg(long = "sso-unexempt")]
    pub(super) sso_unexempt: Vec<String>,
    #[command(flatten)]
    pub(super) out: JsonFlag,
}
