//! The firm's audit log: newest first, filtered by kind and outcome, and the same rows as CSV
//! (`?format=csv`). Only rows recorded for this firm are ever read.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{gate, Gate};
use crate::app::AppState;
use crate::error::PageError;
use crate::store::firm_members::FirmAuditRow;
use crate::web::client_ip::RequestActor;
use crate::web::render;

const PAGE_ROWS: i64 = 200;
const CSV_ROWS: i64 = 10_000;

#[derive(Deserialize)]
pub struct AuditFilters {
    kind: Option<String>,
    outcome: Option<String>,
    format: Option<String>,
}

struct Line {
    when: String,
    row: FirmAuditRow,
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
struct AuditPage<'a> {
    firm_id: &'a str,
    firm_name: &'a str,
    role: &'a str,
    kind: &'a str,
    outcome: &'a str,
    csv_query: String,
    lines: Vec<Line>,
}

fn when(t: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| d.format(&format).ok())
        .unwrap_or_default()
}

/// A filter value as typed: short words only (kinds and outcomes are `snake_case`).
fn word(v: Option<&str>) -> Option<&str> {
    v.map(str::trim)
        .filter(|w| !w.is_empty() && w.len() <= 40)
        .filter(|w| w.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
}

pub async fn show(
    State(state): State<AppState>,
    RequestActor(actor): RequestActor,
    headers: HeaderMap,
    Path(firm_id): Path<String>,
    Query(f): Query<AuditFilters>,
) -> Result<Response, PageError> {
    let visit = match gate(&state, &headers, &actor, &firm_id, "audit").await? {
        Gate::Pass(v) => v,
        Gate::SignIn(res) => return Ok(res),
    };
    let kind = word(f.kind.as_deref());
    let outcome = word(f.outcome.as_deref());
    let csv = f.format.as_deref() == Some("csv");
    let rows = state
        .store
        .firm_audit(
            &firm_id,
            kind,
            outcome,
            if csv { CSV_ROWS } else { PAGE_ROWS },
        )
        .await?;
    if csv {
        return as_csv(&firm_id, &rows);
    }
    let firm_name = state
        .store
        .firm(&firm_id)
        .await?
        .map(|f| f.name)
        .unwrap_or_default();
    let mut csv_query = form_urlencoded::Serializer::new(String::new());
    csv_query.append_pair("format", "csv");
    if let Some(k) = kind {
        csv_query.append_pair("kind", k);
    }
    if let Some(o) = outcome {
        csv_query.append_pair("outcome", o);
    }
    Ok(render::page(&AuditPage {
        firm_id: &firm_id,
        firm_name: &firm_name,
        role: &visit.membership.role,
        kind: kind.unwrap_or(""),
        outcome: outcome.unwrap_or(""),
        csv_query: csv_query.finish(),
        lines: rows
            .into_iter()
            .map(|row| Line {
                when: when(row.at),
                row,
            })
            .collect(),
    }))
}

fn as_csv(firm_id: &str, rows: &[FirmAuditRow]) -> Result<Response, PageError> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let write = |out: &mut csv::Writer<Vec<u8>>, r: &[&str]| {
        out.write_record(r).map_err(|_| PageError::internal())
    };
    write(
        &mut out,
        &[
            "time_utc",
            "kind",
            "outcome",
            "person",
            "client_id",
            "ip",
            "detail",
            "id",
        ],
    )?;
    for r in rows {
        // Cells that a spreadsheet would run as a formula are prefixed with a quote.
        let safe = |s: &str| -> String {
            if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
                format!("'{s}")
            } else {
                s.to_owned()
            }
        };
        write(
            &mut out,
            &[
                &when(r.at),
                &r.kind,
                &r.outcome,
                &safe(r.person_email.as_deref().unwrap_or("")),
                &safe(r.client_id.as_deref().unwrap_or("")),
                r.ip.as_deref().unwrap_or(""),
                &safe(r.detail.as_deref().unwrap_or("")),
                &r.id,
            ],
        )?;
    }
    let bytes = out.into_inner().map_err(|_| PageError::internal())?;
    let disposition = format!("attachment; filename=\"firmgate-audit-{firm_id}.csv\"");
    let mut res = bytes.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}
