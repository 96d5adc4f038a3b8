//! The command line: each subcommand parses its flags and makes one library call. Admin commands
//! print a line for people, or with `--json` exactly one JSON object on stdout.

mod brand;
mod policy_args;

use policy_args::PolicyArgs;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde_json::json;

use crate::admin::clients::{create_client, ClientSpec};
use crate::admin::firms::create_firm;
use crate::admin::users::{create_user, NewUser};
use crate::admin::AdminError;
use crate::app::{self, AppState};
use crate::audit::{self, Actor, AuditEvent};
use crate::clock::Clock;
use crate::config::{parse_duration, FlagSettings, LogFormat, Settings};
use crate::crypto::keys::SigningAlg;
use crate::crypto::password::Password;
use crate::keyring::Keyring;

#[derive(Parser, Debug)]
#[command(
    name = "firmgate",
    version,
    about = "An OpenID Connect identity provider for law firms"
)]
pub struct Cli {
    /// Settings file (TOML); also FIRMGATE_CONFIG.
    #[arg(long, global = true)]
    config: Option<std::path::PathBuf>,
    /// Database URL (sqlite://PATH or postgres://...); also FIRMGATE_DATABASE_URL.
    #[arg(long, global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the provider.
    Serve {
        /// Seed a demo firm, person and relying party at /demo.
        #[arg(long)]
        demo: bool,
        /// Issuer URL; also FIRMGATE_ISSUER.
        #[arg(long)]
        issuer: Option<String>,
        /// Listen address; also FIRMGATE_LISTEN.
        #[arg(long)]
        listen: Option<String>,
    },
    /// Create or upgrade the database schema.
    Migrate,
    /// Firms.
    Firm {
        #[command(subcommand)]
        command: FirmCommand,
    },
    /// People and memberships.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Relying parties.
    Client {
        #[command(subcommand)]
        command: ClientCommand,
    },
    /// Signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Args, Debug)]
struct JsonFlag {
    /// Print one JSON object on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum FirmCommand {
    /// Create a firm; prints its id.
    Create {
        #[arg(long)]
        name: String,
        /// ISO 3166 alpha-2, lower case (au, nz, gb, us).
        #[arg(long)]
        region: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Change a firm's policy.
    Policy(Box<PolicyArgs>),
    /// Set what the firm's sign-in pages show: a display name and a logo (PNG or JPEG, 48 KiB).
    Brand {
        #[arg(long)]
        firm: String,
        /// The name on the sign-in pages ("" = the firm's name).
        #[arg(long)]
        display_name: Option<String>,
        /// A PNG or JPEG file.
        #[arg(long, conflicts_with = "remove_logo")]
        logo: Option<std::path::PathBuf>,
        #[arg(long)]
        remove_logo: bool,
        #[command(flatten)]
        out: JsonFlag,
    },
}

#[derive(Subcommand, Debug)]
enum UserCommand {
    /// Create a person (or add an existing one) as a member of a firm.
    Create {
        #[arg(long)]
        firm: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        password: String,
        #[arg(long, default_value = "member")]
        role: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Invite a person: a membership now, and an e-mail with a link and (for a new person) a
    /// temporary password that must be replaced at the first sign-in.
    Invite {
        #[arg(long)]
        firm: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "member")]
        role: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Turn off two-step sign-in for a locked-out member of the firm. Only a firm owner may:
    /// name yourself with --owner. The member is e-mailed; it is audited.
    ResetMfa {
        #[arg(long)]
        firm: String,
        /// The member's e-mail address.
        #[arg(long)]
        email: String,
        /// The e-mail address of the owner doing this.
        #[arg(long)]
        owner: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// E-mail a member of the firm a single-use link to choose a new password. (No command sets
    /// another person's password.)
    SendReset {
        #[arg(long)]
        firm: String,
        #[arg(long)]
        email: String,
        #[command(flatten)]
        out: JsonFlag,
    },
}

#[derive(Subcommand, Debug)]
enum ClientCommand {
    /// Register a relying party; prints its client_id and (once) its secret.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long = "redirect-uri", num_args = 1..)]
        redirect_uris: Vec<String>,
        #[arg(long = "post-logout-redirect-uri", num_args = 1..)]
        post_logout_redirect_uris: Vec<String>,
        /// OpenID Connect Back-Channel Logout: where firmgate posts a logout token when a
        /// session the client signed in to ends.
        #[arg(long)]
        backchannel_logout_uri: Option<String>,
        /// A public client (no secret; PKCE required).
        #[arg(long)]
        public: bool,
        /// Skip the consent page (the firm's own applications).
        #[arg(long)]
        first_party: bool,
        /// Only members of this firm may sign in.
        #[arg(long)]
        firm: Option<String>,
        /// Comma-separated: authorization_code,refresh_token,client_credentials.
        #[arg(long, value_delimiter = ',')]
        grant: Vec<String>,
        /// client_secret_basic (default) or client_secret_post.
        #[arg(long)]
        auth_method: Option<String>,
        /// RS256 (default), ES256 or EdDSA.
        #[arg(long, default_value = "RS256")]
        id_token_alg: String,
        /// Access and ID token lifetime, e.g. 60m.
        #[arg(long)]
        access_token_ttl: Option<String>,
        /// Refresh token lifetime, e.g. 21d.
        #[arg(long)]
        refresh_token_ttl: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
}

#[derive(Subcommand, Debug)]
enum KeysCommand {
    /// Publish new signing keys now; they sign after the publish lead, old ones retire then.
    Rotate {
        #[command(flatten)]
        out: JsonFlag,
    },
}

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Start(#[from] app::StartError),
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error(transparent)]
    Account(#[from] crate::account::AccountError),
    #[error("{0}")]
    Usage(String),
    #[error("server error: {0}")]
    Serve(String),
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("firmgate: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let json = wants_json(&cli.command);
    match runtime.block_on(execute(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if json {
                println!("{}", json!({ "error": e.to_string() }));
            }
            eprintln!("firmgate: {e}");
            ExitCode::from(2)
        }
    }
}

fn wants_json(c: &Command) -> bool {
    match c {
        Command::Firm {
            command: FirmCommand::Policy(args),
        } => args.out.json,
        Command::Firm {
            command: FirmCommand::Create { out, .. } | FirmCommand::Brand { out, .. },
        }
        | Command::User {
            command:
                UserCommand::Create { out, .. }
                | UserCommand::Invite { out, .. }
                | UserCommand::SendReset { out, .. }
                | UserCommand::ResetMfa { out, .. },
        }
        | Command::Client {
            command: ClientCommand::Create { out, .. },
        }
        | Command::Keys {
            command: KeysCommand::Rotate { out },
        } => out.json,
        _ => false,
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FIRMGATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Audit records of CLI commands say so in place of a browser's user agent.
fn cli_actor() -> Actor {
    Actor {
        ip: None,
        user_agent: Some("firmgate CLI".to_owned()),
    }
}

fn print(json_out: bool, value: &serde_json::Value, human: &str) {
    if json_out {
        println!("{value}");
    } else {
        println!("{human}");
    }
}

fn secs(text: &Option<String>, what: &str) -> Result<Option<i64>, CliError> {
    text.as_deref()
        .map(|t| {
            parse_duration(t)
                .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
                .map_err(|e| CliError::Usage(format!("{what}: {e}")))
        })
        .transpose()
}

async fn execute(cli: Cli) -> Result<(), CliError> {
    let mut flags = FlagSettings {
        config: cli.config,
        database_url: cli.database_url,
        ..Default::default()
    };
    if let Command::Serve { issuer, listen, .. } = &cli.command {
        flags.issuer = issuer.clone();
        flags.listen = listen.clone();
    }
    let settings = Settings::load(&flags)?;
    init_logging(settings.log_format);
    match cli.command {
        Command::Serve { demo, .. } => serve(settings, demo).await,
        Command::Migrate => {
            let store = crate::store::Store::connect(&settings.database_url)
                .await
                .map_err(app::StartError::from)?;
            store.migrate().await.map_err(app::StartError::from)?;
            println!("database is up to date");
            Ok(())
        }
        Command::Firm { command } => {
            let state = AppState::start(settings, Clock::system()).await?;
            match command {
                FirmCommand::Create { name, region, out } => {
                    let firm = create_firm(&state, &name, region.as_deref()).await?;
                    print(
                        out.json,
                        &json!({ "id": firm.id }),
                        &format!("created firm {} ({})", firm.id, firm.name),
                    );
                }
                FirmCommand::Brand {
                    firm,
                    display_name,
                    logo,
                    remove_logo,
                    out,
                } => {
                    brand::run(&state, &firm, display_name, logo, remove_logo, out.json).await?;
                }
                FirmCommand::Policy(args) => {
                    let PolicyArgs {
                        firm,
                        idle_timeout,
                        password_min_length,
                        password_max_age,
                        password_reuse_limit,
                        password_composition,
                        mfa,
                        require_sso,
                        ip_allow,
                        sign_in_hours,
                        time_zone,
                        max_session_age,
                        mfa_exempt,
                        mfa_unexempt,
                        sso_exempt,
                        sso_unexempt,
                        microsoft_tenants,
                        google_domains,
                        oidc_upstreams,
                        email_domains,
                        trust_upstream_mfa,
                        sso_join,
                        out,
                    } = *args;
                    use crate::store::firms::ExemptFrom;
                    let exemptions = [
                        (ExemptFrom::Mfa, mfa_exempt, true),
                        (ExemptFrom::Mfa, mfa_unexempt, false),
                        (ExemptFrom::Sso, sso_exempt, true),
                        (ExemptFrom::Sso, sso_unexempt, false),
                    ]
                    .into_iter()
                    .flat_map(|(rule, emails, on)| emails.into_iter().map(move |e| (rule, e, on)))
                    .collect();
                    let change = crate::admin::firms::PolicyChange {
                        idle_timeout_secs: secs(&idle_timeout, "--idle-timeout")?,
                        password_min_length,
                        password_max_age_days: password_max_age,
                        password_reuse_limit,
                        password_composition: password_composition.map(|v| v == "on"),
                        max_session_age_secs: secs(&max_session_age, "--max-session-age")?,
                        mfa,
                        sso: require_sso,
                        ip_allow,
                        sign_in_hours,
                        time_zone,
                        microsoft_tenants,
                        google_domains,
                        oidc_upstreams,
                        email_domains,
                        upstream_mfa: trust_upstream_mfa,
                        sso_join: sso_join.map(|v| v == "on"),
                        exemptions,
                    };
                    let changed =
                        crate::admin::firms::set_policy(&state, &firm, &change, &cli_actor())
                            .await?;
                    print(
                        out.json,
                        &crate::admin::firms::policy_json(&state, &changed).await?,
                        &format!(
                            "firm {firm}: MFA {}, SSO {}, IP allowlist [{}], hours [{}] {}, idle timeout {}s, \
                             max session age {}s (0 = server limit), password minimum {} characters, \
                             expiry {} days (0 = never), reuse limit {}, composition {}",
                            changed.mfa_mode,
                            changed.sso_mode,
                            changed.ip_allow,
                            changed.signin_hours,
                            changed.time_zone,
                            changed.idle_timeout_secs,
                            changed.max_session_age_secs,
                            changed.password_min_length,
                            changed.password_max_age_days,
                            changed.password_reuse_limit,
                            if changed.password_composition != 0 {
                                "on"
                            } else {
                                "off"
                            }
                        ),
                    );
                }
            }
            Ok(())
        }
        Command::User {
            command:
                UserCommand::Create {
                    firm,
                    email,
                    name,
                    password,
                    role,
                    out,
                },
        } => {
            let state = AppState::start(settings, Clock::system()).await?;
            let password = Password::new(password);
            let (person, new) = create_user(
                &state,
                &NewUser {
                    firm_id: &firm,
                    email: &email,
                    name: &name,
                    password: &password,
                    role: &role,
                },
            )
            .await?;
            let human = if new {
                format!(
                    "created {} ({}) as {role} of firm {firm}",
                    person.id, person.email
                )
            } else {
                format!(
                    "added existing person {} ({}) as {role} of firm {firm}",
                    person.id, person.email
                )
            };
            print(
                out.json,
                &json!({ "id": person.id, "new_person": new }),
                &human,
            );
            Ok(())
        }
        Command::User {
            command:
                UserCommand::Invite {
                    firm,
                    email,
                    name,
                    role,
                    out,
                },
        } => {
            let state = AppState::start(settings, Clock::system()).await?;
            let invited = crate::account::invitation::invite(
                &state,
                &firm,
                &email,
                &name,
                &role,
                &cli_actor(),
            )
            .await?;
            // Deliver now: the CLI process ends right after.
            let sent = state
                .mailer
                .send_due(&state.store, state.clock.now())
                .await
                .map_err(|e| CliError::Serve(e.to_string()))?;
            let human = format!(
                "invited {} to firm {firm} as {role}; {} message(s) delivered{}",
                invited.person.email,
                sent,
                if invited.new_person {
                    " with a temporary password"
                } else {
                    ""
                }
            );
            print(
                out.json,
                &json!({ "id": invited.person.id, "new_person": invited.new_person, "expires_at": invited.expires_at }),
                &human,
            );
            Ok(())
        }
        Command::User {
            command:
                UserCommand::ResetMfa {
                    firm,
                    email,
                    owner,
                    out,
                },
        } => {
            let state = AppState::start(settings, Clock::system()).await?;
            let member =
                crate::account::mfa::owner_reset(&state, &firm, &owner, &email, &cli_actor())
                    .await?;
            let sent = state
                .mailer
                .send_due(&state.store, state.clock.now())
                .await
                .map_err(|e| CliError::Serve(e.to_string()))?;
            print(
                out.json,
                &json!({ "id": member.id, "mfa": false }),
                &format!(
                    "turned off two-step sign-in for {}; {sent} message(s) delivered",
                    member.email
                ),
            );
            Ok(())
        }
        Command::User {
            command: UserCommand::SendReset { firm, email, out },
        } => {
            let state = AppState::start(settings, Clock::system()).await?;
            let person =
                crate::account::reset::send_by_admin(&state, &firm, &email, &cli_actor()).await?;
            // Deliver now: the CLI process ends right after.
            let sent = state
                .mailer
                .send_due(&state.store, state.clock.now())
                .await
                .map_err(|e| CliError::Serve(e.to_string()))?;
            print(
                out.json,
                &json!({ "id": person.id, "sent": true }),
                &format!(
                    "sent {} a link to choose a new password; {sent} message(s) delivered",
                    person.email
                ),
            );
            Ok(())
        }
        Command::Client {
            command:
                ClientCommand::Create {
                    name,
                    redirect_uris,
                    post_logout_redirect_uris,
                    backchannel_logout_uri,
                    public,
                    first_party,
                    firm,
                    grant,
                    auth_method,
                    id_token_alg,
                    access_token_ttl,
                    refresh_token_ttl,
                    out,
                },
        } => {
            let signing_alg = SigningAlg::parse(&id_token_alg).ok_or_else(|| {
                CliError::Usage(format!(
                    "--id-token-alg {id_token_alg:?}: use RS256, ES256 or EdDSA"
                ))
            })?;
            let spec = ClientSpec {
                name,
                redirect_uris,
                post_logout_redirect_uris,
                public,
                first_party,
                firm_id: firm,
                grant_types: grant,
                auth_method,
                signing_alg,
                access_token_ttl_secs: secs(&access_token_ttl, "--access-token-ttl")?,
                refresh_token_ttl_secs: secs(&refresh_token_ttl, "--refresh-token-ttl")?,
                backchannel_logout_uri,
            };
            let state = AppState::start(settings, Clock::system()).await?;
            let created = create_client(&state, &spec).await?;
            let human = match &created.client_secret {
                Some(secret) => format!(
                    "client_id: {}\nclient_secret: {secret}\n(the secret is shown only now)",
                    created.client_id
                ),
                None => format!(
                    "client_id: {} (public client, no secret)",
                    created.client_id
                ),
            };
            print(
                out.json,
                &json!({ "client_id": created.client_id, "client_secret": created.client_secret }),
                &human,
            );
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::Rotate { out },
        } => {
            let state = AppState::start(settings, Clock::system()).await?;
            let kids = rotate_keys(&state).await?;
            print(
                out.json,
                &json!({ "new_kids": kids, "signs_after_secs": state.settings.key_publish_lead.as_secs() }),
                &format!(
                    "published new keys {}; they sign in {}s",
                    kids.join(", "),
                    state.settings.key_publish_lead.as_secs()
                ),
            );
            Ok(())
        }
    }
}

/// `keys rotate`: new keys now, signing after the publish lead; old keys stay published until
/// the longest-lived token they signed has expired.
pub async fn rotate_keys(state: &AppState) -> Result<Vec<String>, AdminError> {
    let longest_client = state.store.max_client_access_ttl().await?.unwrap_or(0);
    let longest = Duration::from_secs(
        state
            .settings
            .access_token_ttl
            .as_secs()
            .max(u64::try_from(longest_client).unwrap_or(0)),
    );
    let now = state.clock.now();
    let kids = Keyring::rotate(
        &state.store,
        &state.settings.master_key,
        now,
        state.settings.key_publish_lead,
        longest,
    )
    .await?;
    audit::record(
        &state.store,
        AuditEvent::KeysRotated { kids: &kids },
        &cli_actor(),
        now,
    )
    .await?;
    state
        .keys
        .reload(&state.store, &state.settings.master_key, now)
        .await?;
    Ok(kids)
}

async fn serve(settings: Settings, demo: bool) -> Result<(), CliError> {
    let listen = settings.listen;
    let state = AppState::start(settings, Clock::system()).await?;
    let listener = app::bind(listen).await?;
    let issuer = state.issuer();
    if demo {
        let seeded = crate::demo::seed(&state).await?;
        println!("firmgate demo is running at {issuer}");
        println!("  open {issuer}/demo and select \"Sign in with firmgate\"");
        println!(
            "  demo sign-in: {}  password: {}",
            seeded.email, seeded.password
        );
    } else if state
        .store
        .count_firms()
        .await
        .map_err(app::StartError::from)?
        == 0
    {
        println!("firmgate is running at {issuer} with an empty database. To begin:");
        println!("  firmgate firm create --name \"Example LLP\" --region gb --json");
        println!("  firmgate user create --firm FIRM_ID --email you@example.com --name \"Your Name\" --password '...' --role owner");
        println!("  firmgate user invite --firm FIRM_ID --email colleague@example.com --name \"Their Name\"");
        println!("  firmgate client create --name \"Practice app\" --redirect-uri https://app.example/callback --json");
    } else {
        println!("firmgate is running at {issuer}");
    }
    tracing::info!(%issuer, listen = %listen, "serving");
    app::serve(state, listener)
        .await
        .map_err(|e| CliError::Serve(e.to_string()))
}
