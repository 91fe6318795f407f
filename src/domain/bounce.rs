//! Bounces: the delivery-status notifications (RFC 3464) that receiving servers send
//! back, as officers save them from the sender's mailbox (.eml, or an mbox of many).
//! Reads which message and which recipient failed, and why. No IO.

use mailparse::{MailHeaderMap, ParsedMail};

/// One recipient a notification says could not be reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounce {
    /// The Message-ID of the message that bounced, from the returned headers.
    pub message_id: Option<String>,
    /// The address that failed (`Final-Recipient`).
    pub recipient: Option<String>,
    /// `5.1.1` and the like.
    pub status: String,
    /// The receiving server's words (`Diagnostic-Code`), or the status's meaning.
    pub diagnostic: String,
}

impl Bounce {
    /// What an officer reads in the history and the institution search.
    pub fn reason(&self) -> String {
        let meaning = status_meaning(&self.status);
        if self.diagnostic.is_empty() {
            format!("不達（{}）{meaning}", self.status)
        } else {
            format!("不達（{}）{meaning}: {}", self.status, self.diagnostic)
        }
    }
}

/// The common statuses in words (RFC 3463).
fn status_meaning(status: &str) -> &'static str {
    let detail = status.split_once('.').map_or("", |(_, d)| d);
    match detail {
        "1.1" => "宛先のメールアドレスがありません",
        "1.2" => "宛先のドメインがありません",
        "2.2" => "受信箱が一杯です",
        "2.1" => "受信箱が使えません",
        "7.1" => "受信を拒否されました",
        "4.4" | "4.7" => "配送できませんでした",
        _ => "",
    }
}

/// Why a file, or one message in it, was not read as a bounce.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotABounce {
    #[error("メールとして読めません: {0}")]
    Unreadable(String),
    #[error("配送状態通知（不達のお知らせ）ではありません")]
    NoReport,
    #[error("配送の遅れの通知で、不達ではありません")]
    OnlyDelayed,
}

/// The messages of a file: an mbox (each starting with a `From ` line) or one message.
pub fn split_mailbox(bytes: &[u8]) -> Vec<&[u8]> {
    if !bytes.starts_with(b"From ") {
        return vec![bytes];
    }
    let mut starts = vec![0];
    let mut i = 0;
    while let Some(pos) = find(&bytes[i..], b"\nFrom ") {
        starts.push(i + pos + 1);
        i += pos + 1;
    }
    starts
        .iter()
        .enumerate()
        .map(|(n, &start)| {
            let end = starts.get(n + 1).copied().unwrap_or(bytes.len());
            // Drop the mbox "From " separator line itself.
            let message = &bytes[start..end];
            match find(message, b"\n") {
                Some(nl) => &message[nl + 1..],
                None => &message[message.len()..],
            }
        })
        .collect()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The failed recipients a message reports.
pub fn read(message: &[u8]) -> Result<Vec<Bounce>, NotABounce> {
    let mail = mailparse::parse_mail(message).map_err(|e| NotABounce::Unreadable(e.to_string()))?;
    let message_id = returned_message_id(&mail);
    let Some(report) = find_part(&mail, "message/delivery-status") else {
        return failed_recipients_header(&mail, message_id);
    };
    let body = report
        .get_body_raw()
        .map_err(|e| NotABounce::Unreadable(e.to_string()))?;
    let text = String::from_utf8_lossy(&body).replace("\r\n", "\n");
    let mut bounces = Vec::new();
    let mut delayed = false;
    // The first block is about the message; each following block is one recipient.
    for block in text.split("\n\n").skip(1) {
        let (headers, _) = mailparse::parse_headers(block.as_bytes())
            .map_err(|e| NotABounce::Unreadable(e.to_string()))?;
        let field = |name: &str| headers.get_first_value(name).unwrap_or_default();
        let action = field("Action").trim().to_ascii_lowercase();
        if action.is_empty() {
            continue;
        }
        if action != "failed" {
            delayed |= action == "delayed";
            continue;
        }
        bounces.push(Bounce {
            message_id: message_id.clone(),
            recipient: address_of(&field("Final-Recipient")),
            status: field("Status").trim().to_string(),
            diagnostic: after_type(&field("Diagnostic-Code")),
        });
    }
    match (bounces.is_empty(), delayed) {
        (false, _) => Ok(bounces),
        (true, true) => Err(NotABounce::OnlyDelayed),
        (true, false) => Err(NotABounce::NoReport),
    }
}

/// Servers that send no report but name the failed address in a header (Exim).
fn failed_recipients_header(
    mail: &ParsedMail,
    message_id: Option<String>,
) -> Result<Vec<Bounce>, NotABounce> {
    let Some(failed) = mail.headers.get_first_value("X-Failed-Recipients") else {
        return Err(NotABounce::NoReport);
    };
    let bounces: Vec<Bounce> = failed
        .split(',')
        .filter_map(address_of)
        .map(|recipient| Bounce {
            message_id: message_id.clone(),
            recipient: Some(recipient),
            status: "5.0.0".into(),
            diagnostic: String::new(),
        })
        .collect();
    if bounces.is_empty() {
        Err(NotABounce::NoReport)
    } else {
        Ok(bounces)
    }
}

/// The first part of a type, depth first.
fn find_part<'a>(mail: &'a ParsedMail<'a>, mime: &str) -> Option<&'a ParsedMail<'a>> {
    if mail.ctype.mimetype.eq_ignore_ascii_case(mime) {
        return Some(mail);
    }
    mail.subparts.iter().find_map(|p| find_part(p, mime))
}

/// The Message-ID of the returned message (its headers come back as a part).
fn returned_message_id(mail: &ParsedMail) -> Option<String> {
    for mime in [
        "text/rfc822-headers",
        "message/rfc822",
        "message/global-headers",
    ] {
        if let Some(part) = find_part(mail, mime) {
            let raw = part.get_body_raw().ok()?;
            let (headers, _) = mailparse::parse_headers(&raw).ok()?;
            if let Some(id) = headers.get_first_value("Message-ID") {
                return Some(id.trim().to_string());
            }
        }
    }
    None
}

/// `rfc822; someone@example.jp` → `someone@example.jp`.
fn address_of(field: &str) -> Option<String> {
    let address = after_type(field);
    let address = address.trim_matches(|c: char| c == '<' || c == '>' || c.is_whitespace());
    (address.contains('@')).then(|| address.to_ascii_lowercase())
}

/// The value after a `type;` prefix, folded lines joined.
fn after_type(field: &str) -> String {
    let value = field.split_once(';').map_or(field, |(_, v)| v);
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn postfix_dsn(message_id: &str, recipient: &str, status: &str, diagnostic: &str) -> String {
        format!(
            "Return-Path: <>\r\nFrom: MAILER-DAEMON@mx.example.jp (Mail Delivery System)\r\n\
             Subject: Undelivered Mail Returned to Sender\r\nTo: iryo@pref.example.jp\r\n\
             MIME-Version: 1.0\r\n\
             Content-Type: multipart/report; report-type=delivery-status; boundary=\"B1\"\r\n\r\n\
             --B1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n\
             This is the mail system at host mx.example.jp.\r\n\r\n\
             --B1\r\nContent-Type: message/delivery-status\r\n\r\n\
             Reporting-MTA: dns; mx.example.jp\r\nArrival-Date: Sun, 10 Jan 2027 09:00:00 +0900\r\n\r\n\
             Final-Recipient: rfc822; {recipient}\r\nOriginal-Recipient: rfc822;{recipient}\r\n\
             Action: failed\r\nStatus: {status}\r\nRemote-MTA: dns; mail.clinic.example.jp\r\n\
             Diagnostic-Code: smtp; {diagnostic}\r\n\r\n\
             --B1\r\nContent-Type: text/rfc822-headers\r\n\r\n\
             Message-ID: {message_id}\r\nFrom: iryo@pref.example.jp\r\nTo: {recipient}\r\n\
             Subject: =?utf-8?b?44CQ552j5L+D44CR?=\r\n\r\n--B1--\r\n"
        )
    }

    #[test]
    fn a_postfix_report_names_the_message_the_recipient_and_the_reason() {
        let dsn = postfix_dsn(
            "<kakari.42.1796000000@pref.example.jp>",
            "Nosuch@Clinic.example.jp",
            "5.1.1",
            "550 5.1.1 <nosuch@clinic.example.jp>: Recipient address rejected: User unknown",
        );
        let b = read(dsn.as_bytes()).unwrap();
        assert_eq!(b.len(), 1);
        assert_eq!(
            b[0].message_id.as_deref(),
            Some("<kakari.42.1796000000@pref.example.jp>")
        );
        assert_eq!(b[0].recipient.as_deref(), Some("nosuch@clinic.example.jp"));
        assert_eq!(b[0].status, "5.1.1");
        assert!(b[0].reason().contains("宛先のメールアドレスがありません"));
        assert!(b[0].reason().contains("User unknown"));
    }

    #[test]
    fn a_delay_notice_or_an_ordinary_message_is_not_a_bounce() {
        let delayed = postfix_dsn("<a@b>", "x@y.jp", "4.4.1", "connect timed out")
            .replace("Action: failed", "Action: delayed");
        assert_eq!(read(delayed.as_bytes()), Err(NotABounce::OnlyDelayed));
        let ordinary = "From: a@b.jp\r\nTo: c@d.jp\r\nSubject: hello\r\n\r\nこんにちは\r\n";
        assert_eq!(read(ordinary.as_bytes()), Err(NotABounce::NoReport));
        assert_eq!(read(b"\x00\x01 not a mail"), Err(NotABounce::NoReport));
    }

    #[test]
    fn a_header_only_bounce_names_its_recipients() {
        let exim = "From: Mail Delivery System <Mailer-Daemon@mx.example.jp>\r\n\
                    X-Failed-Recipients: full@clinic.example.jp\r\nSubject: Mail delivery failed\r\n\r\n\
                    This message was created automatically.\r\n";
        let b = read(exim.as_bytes()).unwrap();
        assert_eq!(b[0].recipient.as_deref(), Some("full@clinic.example.jp"));
        assert_eq!(b[0].message_id, None);
    }

    #[test]
    fn an_mbox_holds_several_messages() {
        let one = postfix_dsn("<kakari.1.0@x>", "a@x.jp", "5.2.2", "552 mailbox full");
        let two = postfix_dsn("<kakari.2.0@x>", "b@x.jp", "5.1.1", "550 unknown");
        let mbox = format!(
            "From MAILER-DAEMON Sun Jan 10 09:00:00 2027\n{one}\nFrom MAILER-DAEMON Sun Jan 10 09:01:00 2027\n{two}"
        );
        let messages = split_mailbox(mbox.as_bytes());
        assert_eq!(messages.len(), 2);
        let first = read(messages[0]).unwrap();
        assert_eq!(first[0].message_id.as_deref(), Some("<kakari.1.0@x>"));
        assert!(first[0].reason().contains("受信箱が一杯です"));
        assert_eq!(
            read(messages[1]).unwrap()[0].recipient.as_deref(),
            Some("b@x.jp")
        );
        // One .eml is one message.
        assert_eq!(split_mailbox(one.as_bytes()).len(), 1);
    }
}
