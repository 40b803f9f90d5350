//! The server's HTTP surface besides `/metrics` (which the exposition runtime serves): health and lifecycle
//! endpoints and the Prometheus-compatible `/api/v1`.

mod admin;
pub mod api;
pub mod ast;
mod meta;
pub mod query;
mod status;
mod targets;

use std::sync::Arc;

use exposition::http::{RouteRequest, RouteResponse, Routes};
use hyper::{Method, StatusCode};

use crate::app::App;
use api::{ApiError, ErrorType};

/// The router handed to the HTTP runtime.
pub fn routes(app: Arc<App>) -> Routes {
    Arc::new(move |req: RouteRequest| {
        let app = app.clone();
        Box::pin(async move { route(&app, req).await })
    })
}

async fn route(app: &Arc<App>, req: RouteRequest) -> RouteResponse {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let read = method == Method::GET || method == Method::HEAD;
    match path.as_str() {
        "/-/healthy" if read => api::text(StatusCode::OK, "Prometheus Server is Healthy.\n"),
        "/-/ready" if read => {
            if app.is_ready() {
                api::text(StatusCode::OK, "Prometheus Server is Ready.\n")
            } else {
                api::text(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
            }
        }
        "/-/reload" | "/-/quit" if method == Method::POST || method == Method::PUT => {
            if !app.options.enable_lifecycle {
                return api::text(StatusCode::FORBIDDEN, "Lifecycle API is not enabled.");
            }
            if path == "/-/quit" {
                app.request_quit();
                return api::text(StatusCode::OK, "Requesting termination... Goodbye!");
            }
            let app = app.clone();
            match tokio::task::spawn_blocking(move || app.reload()).await {
                Ok(Ok(())) => api::text(StatusCode::OK, ""),
                Ok(Err(e)) => api::text(StatusCode::INTERNAL_SERVER_ERROR, e),
                Err(e) => api::text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
            }
        }
        "/-/reload" | "/-/quit" => api::text(
            StatusCode::METHOD_NOT_ALLOWED,
            "This endpoint requires a POST or PUT request.\n",
        ),
        "/" if read => landing(),
        p if p.starts_with("/api/v1/") => api_v1(app, &req, &p["/api/v1/".len()..]).await,
        _ => api::text(StatusCode::NOT_FOUND, "404 page not found\n"),
    }
}

async fn api_v1(app: &Arc<App>, req: &RouteRequest, path: &str) -> RouteResponse {
    let method = req.method();
    if method == Method::OPTIONS {
        return api::text(StatusCode::NO_CONTENT, "");
    }
    let params = api::Params::from_request(req);
    if let Some(admin) = path.strip_prefix("admin/") {
        if !app.options.enable_admin_api {
            return api::error(&ApiError::new(ErrorType::Unavailable, "admin APIs disabled"));
        }
        if method != Method::POST && method != Method::PUT {
            return api::text(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed\n");
        }
        let app = app.clone();
        let admin = admin.to_string();
        let result = tokio::task::spawn_blocking(move || admin::handle(&app, &admin, &params)).await;
        return match result {
            Ok(Ok(None)) => api::text(StatusCode::NO_CONTENT, ""),
            Ok(Ok(Some(data))) => api::success(data, &[], &[]),
            Ok(Err(e)) => api::error(&e),
            Err(e) => api::error(&ApiError::new(ErrorType::Internal, e.to_string())),
        };
    }
    if path == "query" || path == "query_range" {
        let out = if path == "query" {
            query::instant(app, &params).await
        } else {
            query::range(app, &params).await
        };
        return match out {
            Ok(o) => api::success_prefixed(o.body, &o.warnings, &o.infos),
            Err(e) => api::error(&e),
        };
    }
    let mut warnings = Vec::new();
    let result = match path {
        "series" => meta::series(app, &params, &mut warnings),
        "labels" => meta::label_names(app, &params, &mut warnings),
        "format_query" => meta::format_query(&params),
        "parse_query" => ast::parse_query(app, &params),
        "query_exemplars" => meta::query_exemplars(app, &params),
        p if p.starts_with("label/") && p.ends_with("/values") => {
            let name = &p["label/".len()..p.len() - "/values".len()];
            meta::label_values(app, name, &params, &mut warnings)
        }
        "targets" => targets::targets(app, &params),
        "targets/metadata" => targets::targets_metadata(app, &params),
        "metadata" => targets::metadata(app, &params),
        "status/config" => status::config(app),
        "status/flags" => status::flags(app),
        "status/runtimeinfo" => status::runtime_info(app),
        "status/buildinfo" => status::build_info(),
        "status/tsdb" => status::tsdb(app, &params),
        _ => Err(ApiError::new(ErrorType::NotFound, "404 page not found")),
    };
    match result {
        Ok(data) => api::success(data, &warnings, &[]),
        Err(e) if e.kind == ErrorType::NotFound && e.message == "404 page not found" => {
            api::text(StatusCode::NOT_FOUND, "404 page not found\n")
        }
        Err(e) => api::error(&e),
    }
}

fn landing() -> RouteResponse {
    let mut resp = api::text(
        StatusCode::OK,
        "<!DOCTYPE html><html><head><title>Prometheus</title></head><body><h1>Prometheus-compatible server</h1>\
         <ul><li><a href=\"/metrics\">Metrics</a></li><li><a href=\"/api/v1/targets\">Targets</a></li>\
         <li><a href=\"/api/v1/status/config\">Configuration</a></li></ul></body></html>",
    );
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}
