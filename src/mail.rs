//! Sending email through a mail server (SMTP), for `serve --smtp` and
//! `jointly mail test`. What to send and to whom is the core's
//! (`app::notify`); this only speaks SMTP.
//!
//! What a mail server says (its answers, its refusals) is outside text:
//! it is escaped here ([`crate::outside::for_log`]) before anything can
//! log, store or print it.
//!
//! `smtp://host:port` sends in the clear (a relay on the same machine);
//! `smtp://user:pass@host:587` upgrades with STARTTLS before it
//! authenticates, and refuses to go on without it; `smtps://host:465`
//! speaks TLS from the start.

use lettre::message::{Mailbox, MultiPart, SinglePart, header};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// Bad settings: `--smtp` or `--mail-from` cannot be used.
    #[error("{0}")]
    Settings(String),
    /// The server refused it for good (a 5xx answer): trying again will
    /// not help.
    #[error("the mail server refused the message: {0}")]
    Refused(String),
    /// The server could not be reached, or asked to try later.
    #[error("the mail server could not take the message now: {0}")]
    Later(String),
}

impl MailError {
    pub fn for_good(&self) -> bool {
        !matches!(self, MailError::Later(_))
    }
}

/// A message to send.
pub struct Outgoing<'a> {
    pub to: &'a str,
    pub subject: &'a str,
    pub text: String,
    pub html: String,
    /// The RFC 8058 one-click address, for `List-Unsubscribe` (none for
    /// a one-off test message).
    pub unsubscribe: Option<&'a str>,
    /// Stable for one cause and reader, so a copy sent again after a
    /// crash is recognised as the same message.
    pub message_id: String,
}

/// A mail server to send through.
#[derive(Clone)]
pub struct Postbox {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// Where it sends, without the password, for messages.
    pub server: String,
}

impl Postbox {
    /// From `--smtp URL` and `--mail-from ADDRESS`.
    /// The mail server at `url` (`smtp://user@host:587`), signing in with
    /// `password` when given (read from a file or the credentials
    /// directory, so that it is never on a command line, and so that an
    /// `@` or a `#` in it cannot break the URL).
    pub fn new(url: &str, password: Option<String>, from: &str) -> Result<Postbox, MailError> {
        let bad = |why: &str| MailError::Settings(format!("--smtp {}: {why}", redact(url)));
        let u = url::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
        let host = u
            .host_str()
            .ok_or_else(|| bad("it names no server"))?
            .to_string();
        let (mut builder, port) = match u.scheme() {
            "smtp" => (
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host),
                u.port().unwrap_or(587),
            ),
            "smtps" => (
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host),
                u.port().unwrap_or(465),
            ),
            other => return Err(bad(&format!("{other}: is not smtp:// or smtps://"))),
        };
        builder = builder.port(port);
        let tls = || TlsParameters::new(host.clone()).map_err(|e| bad(&e.to_string()));
        if u.scheme() == "smtps" {
            builder = builder.tls(Tls::Wrapper(tls()?));
        } else if !u.username().is_empty() {
            // A password never goes over a connection in the clear.
            builder = builder.tls(Tls::Required(tls()?));
        } else {
            builder = builder.tls(Tls::Opportunistic(tls()?));
        }
        if u.password().is_some() && password.is_some() {
            return Err(bad(
                "it holds a password, and a password file is given too: give it once, in the file",
            ));
        }
        if !u.username().is_empty() {
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            };
            let password = password.unwrap_or_else(|| decode(u.password().unwrap_or("")));
            builder = builder.credentials(Credentials::new(decode(u.username()), password));
        } else if password.is_some() {
            return Err(bad(
                "a password is given but no user name: write smtp://USER@host:port (or [mail] user)",
            ));
        }
        let from: Mailbox = from
            .parse()
            .map_err(|e| {
                MailError::Settings(format!(
                    "--mail-from {from:?}: this is not an email address ({e}); write it as jointly@example.org"
                ))
            })?;
        Ok(Postbox {
            transport: builder
                .timeout(Some(std::time::Duration::from_secs(20)))
                .build(),
            from,
            server: format!("{host}:{port}"),
        })
    }

    /// Sends one message; returns what the server answered.
    pub async fn send(&self, m: &Outgoing<'_>) -> Result<String, MailError> {
        let to: Mailbox = m.to.parse().map_err(|e| {
            MailError::Refused(format!("the address {:?} cannot be used: {e}", m.to))
        })?;
        let mut message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(m.subject)
            .message_id(Some(m.message_id.clone()));
        if let Some(u) = m.unsubscribe {
            message = message
                .header(ListUnsubscribe(format!("<{u}>")))
                .header(ListUnsubscribePost);
        }
        let message = message
            .multipart(
                MultiPart::alternative()
                    .singlepart(SinglePart::plain(m.text.clone()))
                    .singlepart(SinglePart::html(m.html.clone())),
            )
            .map_err(|e| MailError::Refused(e.to_string()))?;
        let said = |text: &str| crate::outside::for_log(text.trim());
        match self.transport.send(message).await {
            Ok(answer) => Ok(said(&answer.message().collect::<Vec<_>>().join(" "))),
            Err(e) if e.is_permanent() => Err(MailError::Refused(said(&e.to_string()))),
            Err(e) => Err(MailError::Later(said(&e.to_string()))),
        }
    }
}

/// The URL as it may be shown: without its password.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// RFC 2369 `List-Unsubscribe`, holding `<https://...>`.
#[derive(Clone)]
struct ListUnsubscribe(String);

impl header::Header for ListUnsubscribe {
    fn name() -> header::HeaderName {
        header::HeaderName::new_from_ascii_str("List-Unsubscribe")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribe(s.to_string()))
    }
    fn display(&self) -> header::HeaderValue {
        header::HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// RFC 8058 `List-Unsubscribe-Post: List-Unsubscribe=One-Click`.
#[derive(Clone)]
struct ListUnsubscribePost;

impl header::Header for ListUnsubscribePost {
    fn name() -> header::HeaderName {
        header::HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribePost)
    }
    fn display(&self) -> header::HeaderValue {
        header::HeaderValue::new(Self::name(), "List-Unsubscribe=One-Click".to_string())
    }
}
